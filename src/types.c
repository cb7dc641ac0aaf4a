/*
 * types.c - the names of metric types and gauge modes, as the exposition
 * formats, the CLI and the configuration spell them. Shared by the registry
 * (error messages) and the renderers, so it sits below both.
 */
#include <string.h>

#include "fastprom.h"

static const char *const type_names[FASTPROM_NTYPES] = {NULL,      "counter", "gauge",   "histogram",
                                                        "summary", "info",    "stateset"};
static const char *const mode_names[] = {"livesum", "all", "liveall", "sum",        "max",
                                         "livemax", "min", "livemin", "mostrecent", "livemostrecent"};
#define NMODES ((int)(sizeof mode_names / sizeof mode_names[0]))

const char *fastprom_type_name(int type)
{
    return type > 0 && type < FASTPROM_NTYPES ? type_names[type] : NULL;
}

const char *fastprom_gauge_mode_name(int mode)
{
    return mode >= 0 && mode < NMODES ? mode_names[mode] : NULL;
}

int fastprom_gauge_mode_parse(const char *name)
{
    for (int i = 0; name && i < NMODES; i++)
        if (!strcmp(name, mode_names[i]))
            return i;
    return -1;
}

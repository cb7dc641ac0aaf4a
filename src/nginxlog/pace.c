/*
 * pace.c - the nap between two reads while lines arrive (pace.h).
 */
#include "pace.h"

void nl_pace_init(nl_pace_t *p, unsigned max_ms, unsigned target_lines)
{
    p->max_us = max_ms * 1000.0;
    p->target_lines = target_lines ? target_lines : 1;
    p->nap_us = 0;
}

double nl_pace_next(nl_pace_t *p, unsigned got, double elapsed_us)
{
    if (got == 0 || p->max_us <= 0) {
        p->nap_us = 0; /* idle: wait on the socket, a line wakes us */
        return 0;
    }
    double nap;
    if (p->nap_us <= 0 || elapsed_us <= 0) {
        nap = NL_PACE_FIRST_US;
    } else {
        /* The rate seen over the last nap (oversleeping included) says how
         * long target_lines take to arrive. */
        nap = p->target_lines * elapsed_us / got;
        if (nap > 2 * p->nap_us)
            nap = 2 * p->nap_us;
    }
    if (nap > p->max_us)
        nap = p->max_us;
    if (nap < 1)
        nap = 1;
    p->nap_us = nap;
    return nap;
}

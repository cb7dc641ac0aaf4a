/*
 * render.h - the renderers' internal entry points. fastprom_render()
 * (render.c) takes a snapshot and hands it here; unit tests call
 * fp_render_snapshot() with snapshots built by hand, so every formatting rule
 * is testable without a segment.
 */
#ifndef FASTPROM_RENDER_H
#define FASTPROM_RENDER_H

#include "buf.h"
#include "fastprom.h"
#include "snapshot.h"

/* Checks format, prefix, flags and names. Returns 0 or EINVAL with err set. */
int fp_render_check_options(const fastprom_render_options_t *opt, fastprom_error_t *err);

/*
 * Appends snap in opt's format (prefix and flags applied; opt->names is the
 * snapshot taker's business) to out. opt must have passed
 * fp_render_check_options. Returns 0, or EINVAL / ENOMEM with err set and out
 * at its previous length.
 */
int fp_render_snapshot(const fp_snapshot_t *snap, const fastprom_render_options_t *opt, fastprom_buf_t *out,
                       fastprom_error_t *err);

/* The formats. They record allocation failure in o (see buf.h). */
void fp_render_text(const fp_snapshot_t *snap, const char *prefix, unsigned flags, int openmetrics, fp_out_t *o);
void fp_render_json(const fp_snapshot_t *snap, const char *prefix, unsigned flags, fp_out_t *o);

#endif

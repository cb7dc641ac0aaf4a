/*
 * pace.h - how long the daemon naps between two reads of the socket while
 * lines keep arriving, so that nginx's send() does not have to wake it for
 * every few lines.
 *
 * Why: a daemon blocked in poll(2) is on the socket's wait queue, and every
 * datagram nginx sends to it then costs nginx a wakeup (an inter-processor
 * interrupt and a context switch on a loaded host). A daemon that naps is
 * not on the wait queue: the datagram is queued and send() returns. The
 * nap is chosen so that about target_lines arrive during it, at most
 * max_us: the queue stays short (nginx drops lines once its send buffer or
 * the socket's queue, net.unix.max_dgram_qlen, is full) while the number
 * of wakeups falls from one per few lines to one per target_lines.
 *
 * Pure arithmetic, no clock and no sleeping here: main.c measures and
 * naps, tests drive it with made-up intervals.
 */
#ifndef NGINXLOG_PACE_H
#define NGINXLOG_PACE_H

typedef struct nl_pace {
    double max_us;       /* longest nap; 0: never nap */
    double target_lines; /* lines a nap should let queue up */
    double nap_us;       /* the nap chosen last; 0 after an idle wait */
} nl_pace_t;

/* Nap of the first read after the daemon waited on an idle socket: short,
 * because the rate of what follows is not known yet (a burst after a quiet
 * spell must not overflow the queue). */
#define NL_PACE_FIRST_US 250.0

void nl_pace_init(nl_pace_t *p, unsigned max_ms, unsigned target_lines);

/*
 * After a read that returned got lines: the nap before the next read, in
 * microseconds, or 0 to wait on the socket instead (nothing arrived, or
 * napping is off). elapsed_us: time since the previous read ended, when the
 * daemon napped in between; ignored after an idle wait (the previous
 * result was 0). The nap grows at most 2x per read, so a rising rate is
 * followed before the queue fills, and shrinks at once when more than
 * target_lines arrived.
 */
double nl_pace_next(nl_pace_t *p, unsigned got, double elapsed_us);

#endif

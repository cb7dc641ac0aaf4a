/*
 * privileges.h - the user and group fastprom's daemons (fastprom-fcgi,
 * fastprom-nginxlog) give their socket and become: both bind as root when
 * started as root, then drop to an unprivileged user for good.
 */
#ifndef SERVICE_PRIVILEGES_H
#define SERVICE_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The ids of user and group (either may be NULL: (uid_t)-1 / (gid_t)-1;
 * with a user and no group, the user's primary group). 0, or -1 with one
 * line in err naming the missing account and the setting to fix.
 */
int svc_lookup_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/*
 * When running as root with a user: switches to that user (and group, else
 * the user's primary group) with its supplementary groups, irreversibly.
 * Not root: fine when user is the current user (or NULL), an error
 * otherwise. 0, or -1 with one line in err.
 */
int svc_drop_privileges(const char *user, const char *group, char *err, size_t errlen);

#endif

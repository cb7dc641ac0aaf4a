/*
 * privileges.c - account lookup and the privilege drop (privileges.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privileges.h"

int svc_lookup_ids(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (user) {
        struct passwd *pw = getpwnam(user);
        if (!pw) {
            snprintf(err, errlen, "user \"%s\" does not exist; create it or fix \"user\" / --user", user);
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, errlen, "group \"%s\" does not exist; create it or fix \"group\" / --group", group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

int svc_drop_privileges(const char *user, const char *group, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    if (!user)
        return 0;
    if (svc_lookup_ids(user, group, &uid, &gid, err, errlen) != 0)
        return -1;
    if (geteuid() != 0) {
        if (uid == geteuid())
            return 0;
        snprintf(err, errlen, "cannot switch to user \"%s\": not running as root (start as root, or drop \"user\")",
                 user);
        return -1;
    }
    if (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot switch to user \"%s\": %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* the switch must be irreversible */
        snprintf(err, errlen, "switching to user \"%s\" left root privileges recoverable; refusing to run", user);
        return -1;
    }
    return 0;
}

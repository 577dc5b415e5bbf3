/* The default file set, and the decoding of path operations (rename,
 * unlink, rmdir, chmod, chown, truncate, link) on watched files.
 *
 * Why it works this way:
 * - Attackers persist and raise privileges by changing a short, well-known
 *   list of files: accounts (passwd, shadow, group, sudoers), schedulers
 *   (cron, anacron, systemd units), start-up code (shell rc files, profile.d,
 *   ld.so.preload, PAM, rc.local, motd scripts) and keys (authorized_keys).
 *   Changes to them are rare on a healthy host, so they are watched by
 *   default, changes only: reads of /etc/passwd happen at every `id`.
 * - Users' files are found at start from the password database (every
 *   account whose home is a directory other than /), as the kernel filter
 *   needs inodes of existing directories. A user without ~/.ssh gets ~/.ssh
 *   itself watched, so its creation and any key written in it are seen.
 *   Homes created after start are not watched (documented).
 * - The kernel sends a path operation when a component of its path carries
 *   a watched name, or when it is relative to a watched directory
 *   (fileops.bpf.h); the final word is here, by string, on the path joined
 *   with its directory and cleaned of "." and "..": the kernel filter is a
 *   cheap necessary condition, this the exact one.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_HOMES 256u

/* System paths (a missing one is skipped). Directories cover what is below. */
static const char *const system_files[] = {
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
    /* schedulers */
    "/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly",
    "/etc/anacrontab", "/var/spool/cron", "/etc/systemd/system", "/etc/systemd/user", "/usr/lib/systemd/system",
    "/usr/lib/systemd/user", "/lib/systemd/system", "/etc/init.d", "/etc/rc.local",
    /* code run at log-in and at every start of a program */
    "/etc/profile", "/etc/profile.d", "/etc/bash.bashrc", "/etc/bashrc", "/etc/environment", "/etc/zsh",
    "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/pam.d", "/etc/pam.conf",
    "/etc/security/pam_env.conf", "/etc/update-motd.d", "/etc/ssh/sshd_config", "/etc/xdg/autostart",
    "/etc/udev/rules.d"};

/* Per home directory. ".ssh" entries are replaced by ".ssh" itself when it does not exist. */
static const char *const home_files[] = {".ssh/authorized_keys",
                                         ".ssh/authorized_keys2",
                                         ".bashrc",
                                         ".bash_profile",
                                         ".bash_login",
                                         ".profile",
                                         ".bash_logout",
                                         ".zshrc",
                                         ".zprofile",
                                         ".zshenv",
                                         ".config/systemd/user",
                                         ".config/autostart"};

static const char *const fop_names[SENSOR_FOP_MAX_] = {
    [SENSOR_FOP_RENAME] = "rename", [SENSOR_FOP_UNLINK] = "delete", [SENSOR_FOP_RMDIR] = "rmdir",
    [SENSOR_FOP_CHMOD] = "chmod",   [SENSOR_FOP_CHOWN] = "chown",   [SENSOR_FOP_TRUNCATE] = "truncate",
    [SENSOR_FOP_LINK] = "link",
};

const char *sensor_fop_name(uint32_t op)
{
    return op < SENSOR_FOP_MAX_ && fop_names[op] ? fop_names[op] : "?";
}

/* Adds path, resolved like a watch (symlinks resolved where it exists, the
 * parent must exist), unless it is there already. 1 added, 0 skipped. */
static int add_watch(struct sensor *s, size_t *cap, const char *path)
{
    char res[PATH_MAX], dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || strlen(path) >= sizeof(dir))
        return 0;
    if (!realpath(path, res)) {
        size_t dl = (size_t)(slash - path);
        memcpy(dir, path, dl ? dl : 1);
        dir[dl ? dl : 1] = 0;
        if (!realpath(dir, res) || strlen(res) + strlen(slash) >= sizeof(res))
            return 0;
        if (strcmp(res, "/") != 0)
            strcat(res, slash);
        else
            snprintf(res, sizeof(res), "%s", slash);
    }
    if (strcmp(res, "/") == 0 || s->nwatch >= SENSOR_WATCH_MAX)
        return 0; /* beyond the kernel maps' room the rest is not watched */
    for (size_t i = s->nuser_watch; i < s->nwatch; i++)
        if (strcmp(s->watch[i], res) == 0)
            return 0;
    if (s->nwatch == *cap) {
        size_t nc = *cap ? *cap * 2 : 128;
        char **nw = realloc(s->watch, nc * sizeof(*nw));
        if (!nw)
            return -ENOMEM;
        s->watch = nw;
        *cap = nc;
    }
    if (!(s->watch[s->nwatch] = strdup(res)))
        return -ENOMEM;
    s->nwatch++;
    return 1;
}

static int add_home(struct sensor *s, size_t *cap, const char *home)
{
    char p[PATH_MAX];
    struct stat st;
    int r = 0;
    snprintf(p, sizeof(p), "%s/.ssh", home);
    bool have_ssh = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    if (!have_ssh && (r = add_watch(s, cap, p)) < 0)
        return r;
    for (size_t i = 0; i < sizeof(home_files) / sizeof(home_files[0]); i++) {
        if (!have_ssh && strncmp(home_files[i], ".ssh/", 5) == 0)
            continue;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", home, home_files[i]) >= sizeof(p))
            continue;
        if ((r = add_watch(s, cap, p)) < 0)
            return r;
    }
    return 0;
}

/* Appends the default set (if defaults) and extra paths after the user's
 * watches; those report changes only. */
int sensor_default_files(struct sensor *s, const char *const *extra, size_t nextra, bool defaults)
{
    size_t cap = s->nwatch;
    int r = 0;
    s->nuser_watch = s->nwatch;
    for (size_t i = 0; i < nextra; i++)
        if (extra[i] && extra[i][0] == '/' && (r = add_watch(s, &cap, extra[i])) < 0)
            return r;
    if (!defaults)
        return 0;
    for (size_t i = 0; i < sizeof(system_files) / sizeof(system_files[0]); i++)
        if ((r = add_watch(s, &cap, system_files[i])) < 0)
            return r;
    /* each home once, however many accounts share it */
    char *homes[MAX_HOMES];
    size_t nh = 0;
    struct passwd *pw;
    setpwent();
    while ((pw = getpwent()) && nh < MAX_HOMES) {
        struct stat st;
        char res[PATH_MAX];
        if (!pw->pw_dir || pw->pw_dir[0] != '/' || !realpath(pw->pw_dir, res) || strcmp(res, "/") == 0 ||
            stat(res, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        bool seen = false;
        for (size_t i = 0; i < nh && !seen; i++)
            seen = strcmp(homes[i], res) == 0;
        if (!seen && (homes[nh] = strdup(res)))
            nh++;
    }
    endpwent();
    for (size_t i = 0; i < nh; i++) {
        if (r == 0)
            r = add_home(s, &cap, homes[i]);
        free(homes[i]);
    }
    return r < 0 ? r : 0;
}

int fileops_watch_of(const struct sensor *s, const char *path)
{
    for (size_t i = 0; i < s->nwatch; i++) {
        size_t l = strlen(s->watch[i]);
        if (strncmp(path, s->watch[i], l) == 0 && (path[l] == 0 || path[l] == '/'))
            return (int)i;
    }
    return -1;
}

/* base + "/" + path (path alone if absolute), "." and ".." taken out */
int fileops_join(const char *base, size_t blen, const char *path, size_t plen, char *out, size_t cap)
{
    char tmp[PATH_MAX * 2 + 2];
    size_t n = 0, o = 0;
    if (plen && path[0] != '/') {
        if (blen >= PATH_MAX || blen == 0 || base[0] != '/')
            return -1;
        memcpy(tmp, base, blen);
        n = blen;
        tmp[n++] = '/';
    }
    if (plen >= PATH_MAX)
        return -1;
    memcpy(tmp + n, path, plen);
    n += plen;
    if (cap < 2)
        return -1;
    /* component by component; out always starts with '/' */
    for (size_t i = 0; i < n;) {
        while (i < n && tmp[i] == '/')
            i++;
        size_t j = i;
        while (j < n && tmp[j] != '/')
            j++;
        size_t cl = j - i;
        if (cl == 0 || (cl == 1 && tmp[i] == '.')) {
        } else if (cl == 2 && tmp[i] == '.' && tmp[i + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            if (o + 1 + cl + 1 > cap)
                return -1;
            out[o++] = '/';
            memcpy(out + o, tmp + i, cl);
            o += cl;
        }
        i = j;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    return (int)o;
}

int fileops_decode(struct sensor *s, const struct sensor_rec_fileop *r, size_t size)
{
    struct sensor_event ev;
    const char *d = (const char *)(r + 1);
    if (size < sizeof(*r) || r->op == 0 || r->op >= SENSOR_FOP_MAX_ || r->path_len >= SENSOR_PATH_MAX ||
        r->path2_len >= SENSOR_PATH_MAX || r->base_len >= SENSOR_PATH_MAX || r->base2_len >= SENSOR_PATH_MAX ||
        sizeof(*r) + (size_t)r->path_len + r->path2_len + r->base_len + r->base2_len > size)
        return -1;
    const char *p1 = d, *p2 = d + r->path_len, *b1 = p2 + r->path2_len, *b2 = b1 + r->base_len;
    /* image_buf and cwd_buf are free while a file event is decoded (PATH_MAX + 1 each) */
    char *t1 = s->image_buf, *t2 = s->cwd_buf;
    int w1 = -1, w2 = -1;
    t1[0] = t2[0] = 0;
    if (r->path_len && fileops_join(b1, r->base_len, p1, r->path_len, t1, PATH_MAX) > 0)
        w1 = fileops_watch_of(s, t1);
    if (r->op == SENSOR_FOP_RENAME && r->path2_len &&
        fileops_join(b2, r->base2_len, p2, r->path2_len, t2, PATH_MAX) > 0)
        w2 = fileops_watch_of(s, t2);
    else if (r->op == SENSOR_FOP_LINK && r->path2_len) /* a link's target: kept as given */
        snprintf(t2, PATH_MAX, "%.*s", (int)r->path2_len, p2);
    if (w1 < 0 && w2 < 0)
        return 0; /* a name that only looked like a watched one */
    enum sensor_kind kind = SENSOR_FILE_CHANGE;
    if (r->op == SENSOR_FOP_UNLINK || r->op == SENSOR_FOP_RMDIR || (r->op == SENSOR_FOP_RENAME && w1 < 0))
        kind = SENSOR_FILE_DELETE;
    else if (r->op == SENSOR_FOP_CHMOD || r->op == SENSOR_FOP_CHOWN)
        kind = SENSOR_FILE_ATTR;
    sensor_event_init(&ev, kind, r->h.ts_ns + (uint64_t)s->boot_to_wall_ns, r->h.pid, r->h.tgid);
    ev.start_time_ns = r->h.start_ns;
    ev.uid = r->h.uid;
    memcpy(ev.comm, r->h.comm, sizeof(ev.comm));
    ev.comm[sizeof(ev.comm) - 1] = 0;
    ev.file_op = r->op;
    ev.file_mode = r->mode;
    ev.owner = r->owner;
    ev.group = r->group;
    if (kind == SENSOR_FILE_DELETE && r->op == SENSOR_FOP_RENAME) {
        /* renamed away: the watched file is the old name, gone from its place */
        ev.path = t2;
        ev.path2 = t1[0] ? t1 : NULL;
        ev.watch_index = w2;
    } else {
        ev.path = t1;
        ev.path2 = t2[0] ? t2 : NULL;
        ev.watch_index = w1 >= 0 ? w1 : w2;
    }
    sensor_enrich(s, &ev);
    return sensor_deliver(s, &ev), 0;
}

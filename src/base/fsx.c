/* fsx — file-system helpers. See fsx.h. */
#include "base/fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsx_mkdir_p(const char *dir, mode_t mode)
{
    char buf[4096];
    struct stat st;
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, len + 1);
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -errno;
        *s = c;
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fsx_mkdir_parent(const char *path, mode_t mode)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');

    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return fsx_mkdir_p(dir, mode);
}

int fsx_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsx_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int fsx_atomic_open(struct fsx_atomic *f, const char *path)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;

    f->fd = -1;
    f->stream = NULL;
    if ((size_t)snprintf(f->tmp, sizeof(f->tmp), "%.*s.%s.XXXXXX", dirlen, path,
                         slash ? slash + 1 : path) >= sizeof(f->tmp))
        return -ENAMETOOLONG;
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0)
        return -errno;
    fcntl(f->fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

int fsx_atomic_write(struct fsx_atomic *f, const void *buf, size_t len)
{
    return fsx_write_all(f->fd, buf, len);
}

FILE *fsx_atomic_stream(struct fsx_atomic *f)
{
    if (!f->stream && f->fd >= 0)
        f->stream = fdopen(f->fd, "w");
    return f->stream;
}

/* The directory part of path, "." when none. */
static void dir_of(char *buf, size_t len, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int fsx_atomic_commit(struct fsx_atomic *f, const char *path, mode_t mode, unsigned flags, int rc,
                      const char **step)
{
    const char *what = "write";
    char dir[4096];

    if (f->fd < 0)
        return rc ? rc : -EBADF;
    if (rc == 0 && f->stream && fflush(f->stream) != 0)
        rc = -errno;
    if (rc == 0 && fchmod(f->fd, mode) != 0) {
        rc = -errno;
        what = "chmod";
    }
    if (rc == 0 && (flags & FSX_DURABLE) && fsync(f->fd) != 0) {
        rc = -errno;
        what = "fsync";
    }
    if ((f->stream ? fclose(f->stream) : close(f->fd)) != 0 && rc == 0) {
        rc = -errno;
        what = "close";
    }
    f->stream = NULL;
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, path) != 0) {
        rc = -errno;
        what = "rename";
    }
    if (rc != 0) {
        unlink(f->tmp);
    } else if (flags & FSX_DURABLE) {
        dir_of(dir, sizeof(dir), path);
        if ((rc = fsx_fsync_dir(dir)) != 0)
            what = "fsync";
    }
    if (step)
        *step = what;
    return rc;
}

int fsx_write_file(const char *path, const void *buf, size_t len, mode_t mode, unsigned flags)
{
    struct fsx_atomic f;
    int rc = fsx_atomic_open(&f, path);

    if (rc != 0)
        return rc;
    return fsx_atomic_commit(&f, path, mode, flags, fsx_atomic_write(&f, buf, len), NULL);
}

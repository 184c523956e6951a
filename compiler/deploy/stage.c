#define _GNU_SOURCE /* mkdtemp, posix_spawn */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/core/util.h"

extern char **environ;

sn_code sn_stage_open(sn_stage *sg, const char *out, const char *tag, sn_status *st) {
    memset(sg, 0, sizeof *sg);
    if (strlen(out) >= sizeof sg->out - 300)
        return sn_fail(st, SN_ERR_INPUT, "%s: path too long", out);
    sn_strlcpy(sg->out, out, sizeof sg->out);
    if (sn_mkdirs(out, st)) return st->code;
    snprintf(sg->dir, sizeof sg->dir, "%s/.snnc-%.64s-XXXXXX", out, tag);
    if (!mkdtemp(sg->dir)) {
        sg->dir[0] = '\0';
        return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot create a staging directory: %s", out,
                       strerror(errno));
    }
    return SN_OK;
}

sn_code sn_stage_path(const sn_stage *sg, const char *name, char *path, size_t n, sn_status *st) {
    int w = snprintf(path, n, "%s/%s", sg->dir, name);
    if (w < 0 || (size_t)w >= n) return sn_fail(st, SN_ERR_INPUT, "%s: path too long", sg->dir);
    return SN_OK;
}

sn_code sn_stage_add(sn_stage *sg, const char *name, sn_status *st) {
    if (sg->n == SN_STAGE_MAX_FILES || strlen(name) >= sizeof sg->names[0])
        return sn_fail(st, SN_ERR_RUNTIME, "internal error: too many or too long output names");
    sn_strlcpy(sg->names[sg->n++], name, sizeof sg->names[0]);
    return SN_OK;
}

sn_code sn_stage_file(sn_stage *sg, const char *name, const void *data, size_t size,
                      sn_status *st) {
    char path[4400];
    if (sn_stage_path(sg, name, path, sizeof path, st) ||
        sn_write_file_atomic(path, data, size, st))
        return st->code;
    return sn_stage_add(sg, name, st);
}

sn_code sn_stage_commit(sn_stage *sg, sn_status *st) {
    for (int i = 0; i < sg->n; i++) {
        char from[4400], to[4400];
        snprintf(from, sizeof from, "%s/%s", sg->dir, sg->names[i]);
        int w = snprintf(to, sizeof to, "%s/%s", sg->out, sg->names[i]);
        if (w < 0 || (size_t)w >= sizeof to)
            return sn_fail(st, SN_ERR_INPUT, "%s: path too long", sg->out);
        if (rename(from, to) != 0)
            return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot move into place: %s", to,
                           strerror(errno));
    }
    sg->n = 0;
    return SN_OK;
}

void sn_stage_close(sn_stage *sg) {
    if (!sg->dir[0]) return;
    DIR *d = opendir(sg->dir);
    if (d) {
        struct dirent *e;
        char path[4400];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", sg->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(sg->dir);
    sg->dir[0] = '\0';
}

static const char *c_compiler(void) {
    const char *cc = getenv("SNNC_CC");
    if (!cc || !*cc) cc = getenv("CC");
    return cc && *cc ? cc : "cc";
}

sn_code sn_stage_link_shared(sn_stage *sg, const char *lib, const char *so, const char *prefix,
                             sn_status *st) {
    char a[4400], out[4400], map[4400], log[4400], mapopt[4500], soname[300];
    if (sn_stage_path(sg, lib, a, sizeof a, st) || sn_stage_path(sg, so, out, sizeof out, st) ||
        sn_stage_path(sg, "exports.map", map, sizeof map, st) ||
        sn_stage_path(sg, "cc.log", log, sizeof log, st))
        return st->code;
    char script[512];
    snprintf(script, sizeof script, "{\n  global: %.200s*;\n  local: *;\n};\n", prefix);
    if (sn_write_file_replace(map, script, strlen(script), st)) return st->code;
    snprintf(mapopt, sizeof mapopt, "-Wl,--version-script=%s", map);
    snprintf(soname, sizeof soname, "-Wl,-soname,%.200s", so);
    const char *cc = c_compiler();
    char *argv[] = {(char *)cc,
                    "-shared",
                    "-o",
                    out,
                    "-Wl,--whole-archive",
                    a,
                    "-Wl,--no-whole-archive",
                    mapopt,
                    soname,
                    "-Wl,--no-undefined",
                    "-Wl,-z,noexecstack",
                    "-Wl,-z,relro",
                    "-Wl,-z,now",
                    "-lm",
                    "-lpthread",
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, cc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return sn_fail(st, SN_ERR_RUNTIME,
                       "cannot run the C compiler '%s' to link %s: %s (install gcc, set "
                       "SNNC_CC, or pass --shared off for the static library alone)",
                       cc, so, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        sn_fail(st, SN_ERR_RUNTIME, "'%s' failed to link %s (exit %d):", cc, so,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        unsigned char *text = NULL;
        size_t len = 0;
        sn_status ig;
        sn_status_init(&ig);
        if (sn_read_file(log, &text, &len, &ig) == SN_OK) {
            if (len > 2000) len = 2000;
            sn_status_append(st, "\n%.*s", (int)len, (const char *)text);
            free(text);
        }
        return st->code;
    }
    return sn_stage_add(sg, so, st);
}

/* stoat: finds intrusions that live off the land, in event logs and live.
 * This file only dispatches to the subcommands. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/mem.h"
#include "version.h" /* build/gen: VERSION and git describe (scripts/gen-version.sh) */

/* What every command allocates first (a warm rule load, some 10 MiB) lands
 * on huge pages: util/mem.c says why. */
#define HEAP_ON_HUGE_PAGES (16u << 20)

/* As many malloc arenas as cores, not glibc's eight per core. glibc gives
 * each new thread an arena of its own while it may, a fresh mapping whose
 * every page is first touched by that thread: on the virtual machines stoat
 * runs on a fault of some 20 us a page, and the workers of `hunt -j 2`
 * touched 3,500 of them (the shared EVTX folder). One arena for every thread
 * took those faults away but serialised the cold rule compile, whose
 * threads allocate all the time: --no-cache 0.48 -> 1.1 s on 2 cores, the
 * threads waiting on the arena's lock. One per core keeps both: the EVTX
 * folder's faults 2,400 -> 900 (one arena: 370) at the same wall time, the
 * compile as fast as with glibc's default. */
static void malloc_arenas(void)
{
#ifdef M_ARENA_MAX
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cores > 2 ? (int)(cores < 1024 ? cores : 1024) : 2);
#endif
}

static void usage(FILE *f)
{
    fputs("usage: stoat COMMAND [options]\n\n"
          "Commands:\n"
          "  hunt PATH...            hunt event logs with Sigma rules and report alerts\n"
          "  watch                   watch this Linux host live (kernel sensor, root)\n"
          "  rules check PATH...     validate Sigma rules\n"
          "  rules test DIR          run the SigmaHQ regression suite\n"
          "  dump PATH...            print every record as JSON lines (any input format)\n"
          "  baseline learn PATH...  learn what is normal per host (for hunt --baseline)\n"
          "  report DB               write a store (hunt --db DB) as one offline HTML report\n"
          "  serve DB                the live dashboard and JSON API over a store\n"
          "  publish PATH...|-       publish logs' events to the fleet (NATS JetStream)\n"
          "  fleet                   the centre of a fleet on NATS JetStream (setup, status,\n"
          "                          rules push, creds)\n"
          "  help                    this text\n"
          "  --version               the version (and the git commit it was built from)\n\n"
          "`stoat COMMAND --help` describes each command.\n",
          f);
}

int main(int argc, char **argv)
{
    malloc_arenas();
    mem_heap_on_huge_pages(HEAP_ON_HUGE_PAGES);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "hunt"))
        return cmd_hunt(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules"))
        return cmd_rules(argc - 1, argv + 1);
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc - 1, argv + 1);
    if (!strcmp(cmd, "baseline"))
        return cmd_baseline(argc - 1, argv + 1);
    if (!strcmp(cmd, "watch"))
        return cmd_watch(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "fleet"))
        return cmd_fleet(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "--version")) {
        printf("stoat %s%s%s%s\n", STOAT_VERSION, STOAT_GIT_DESCRIBE[0] ? " (git " : "", STOAT_GIT_DESCRIBE,
               STOAT_GIT_DESCRIBE[0] ? ")" : "");
        return EXIT_OK;
    }
    if (!strcmp(cmd, "publish"))
        return cmd_publish(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "stoat: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}

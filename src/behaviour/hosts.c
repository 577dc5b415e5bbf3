#include "behaviour/hosts.h"

#include <stdlib.h>
#include <string.h>

#include "behaviour/spoof.h"
#include "util/mem.h"

void hosts_init(struct hosts *h)
{
    memset(h, 0, sizeof(*h));
    strmap_init(&h->ids);
    XGROW(h->recs, h->cap, 1);
    h->recs[0] = (struct host_rec){.spoof_hash = spoof_host_hash("")};
    h->n = 1;
}

void hosts_free(struct hosts *h)
{
    strmap_free(&h->ids);
    free(h->recs);
    memset(h, 0, sizeof(*h));
}

static uint32_t intern(struct hosts *h, const char *name)
{
    if (!name)
        return 0;
    size_t len = strlen(name);
    uint32_t id = strmap_put(&h->ids, name, len, (uint32_t)h->n);
    if (id == h->n) {
        XGROW(h->recs, h->cap, h->n + 1);
        h->recs[id] = (struct host_rec){.name = strmap_key(&h->ids, name, len), .spoof_hash = spoof_host_hash(name)};
        h->n++;
    }
    return id;
}

struct host_rec *hosts_get(struct hosts *h, const char *name)
{
    const char *last = h->recs[h->last].name;
    if (name ? last && strcmp(last, name) == 0 : !last)
        return &h->recs[h->last];
    h->last = intern(h, name);
    return &h->recs[h->last];
}

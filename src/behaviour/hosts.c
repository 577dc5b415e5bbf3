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
    bool added;
    const struct strmap_slot *s = strmap_upsert(&h->ids, name, strlen(name), (uint32_t)h->n, &added);
    if (added) {
        XGROW(h->recs, h->cap, h->n + 1);
        h->recs[h->n++] = (struct host_rec){.name = s->key, .spoof_hash = spoof_host_hash(name)};
    }
    return s->value;
}

struct host_rec *hosts_get(struct hosts *h, const char *name)
{
    const char *last = h->recs[h->last].name;
    if (name ? last && strcmp(last, name) == 0 : !last)
        return &h->recs[h->last];
    h->last = intern(h, name);
    return &h->recs[h->last];
}

/* The one page of the report and the dashboard, assembled from the template
 * and assets embedded at build time (web/, see mk/web.mk). */
#ifndef STOAT_REPORT_PAGE_H
#define STOAT_REPORT_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

extern const char web_asset_index_html[], web_asset_app_css[], web_asset_app_js[], web_asset_attack_techniques_tsv[];
extern const size_t web_asset_index_html_len, web_asset_app_css_len, web_asset_app_js_len,
    web_asset_attack_techniques_tsv_len;

struct page_parts {
    const char *mode; /* "report" or "live" */
    const char *csp;  /* Content-Security-Policy of the page */
    const char *csrf; /* token the page sends with state changes ("" in a report) */
    const char *data; /* JSON for the report ("" when live); made safe for a script element here */
    size_t data_len;
    const char *events; /* the report's events, parsed only when one is opened */
    size_t events_len;
    bool packed; /* data and events are base64 of gzip: put in as they are */
};

/* Appends the page to out. */
void page_build(struct buf *out, const struct page_parts *p);

/* Appends JSON text so that it can sit inside <script>: '<', '>' and '&'
 * (which only occur inside JSON strings) become \u escapes. */
void page_json_for_script(struct buf *out, const char *json, size_t n);

#endif

/* Filling the page template. The template marks its holes with
 * <!--STOAT:NAME--> comments; the C side only ever puts in our own CSS and
 * JS, constant strings and JSON whose '<' is escaped, so no log text reaches
 * the HTML parser as markup: the browser code builds the DOM from the data
 * with textContent (web/app.js). */
#include <string.h>

#include "report/page.h"

void page_json_for_script(struct buf *out, const char *json, size_t n)
{
    buf_reserve(out, n + n / 16 + 16);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (json[i]) {
        case '<': rep = "\\u003c"; break;
        case '>': rep = "\\u003e"; break;
        case '&': rep = "\\u0026"; break;
        default: continue;
        }
        buf_put(out, json + start, i - start);
        buf_puts(out, rep);
        start = i + 1;
    }
    buf_put(out, json + start, n - start);
}

/* Attribute values we put in are our own constants and hex tokens; still,
 * anything but a safe set of characters is dropped. */
static void attr(struct buf *out, const char *v)
{
    for (; v && *v; v++) {
        char c = *v;
        if (c == '"' || c == '<' || c == '>' || c == '&' || (unsigned char)c < 0x20)
            continue;
        buf_putc(out, c);
    }
}

/* The technique table (data/attack-techniques.tsv) goes into a text
 * <script>: our own file, with any '<' dropped all the same so that no line
 * of it can close the element. */
static void techniques(struct buf *out)
{
    const char *t = web_asset_attack_techniques_tsv;
    size_t n = web_asset_attack_techniques_tsv_len, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] != '<')
            continue;
        buf_put(out, t + start, i - start);
        start = i + 1;
    }
    buf_put(out, t + start, n - start);
}

void page_build(struct buf *out, const struct page_parts *p)
{
    const char *t = web_asset_index_html, *end = t + web_asset_index_html_len;
    static const char mark[] = "<!--STOAT:";
    while (t < end) {
        const char *m = strstr(t, mark);
        if (!m || m >= end) {
            buf_put(out, t, (size_t)(end - t));
            break;
        }
        buf_put(out, t, (size_t)(m - t));
        const char *name = m + sizeof(mark) - 1;
        const char *close = strstr(name, "-->");
        if (!close) {
            buf_put(out, m, (size_t)(end - m));
            break;
        }
        size_t nl = (size_t)(close - name);
        if (nl == 4 && !memcmp(name, "MODE", 4))
            attr(out, p->mode);
        else if (nl == 3 && !memcmp(name, "CSP", 3))
            attr(out, p->csp);
        else if (nl == 4 && !memcmp(name, "CSRF", 4))
            attr(out, p->csrf);
        else if (nl == 3 && !memcmp(name, "CSS", 3))
            buf_put(out, web_asset_app_css, web_asset_app_css_len);
        else if (nl == 2 && !memcmp(name, "JS", 2))
            buf_put(out, web_asset_app_js, web_asset_app_js_len);
        else if (nl == 6 && !memcmp(name, "ATTACK", 6))
            techniques(out);
        else if (nl == 4 && !memcmp(name, "DATA", 4)) {
            if (p->data && p->data_len && p->packed)
                buf_put(out, p->data, p->data_len);
            else if (p->data && p->data_len)
                page_json_for_script(out, p->data, p->data_len);
        } else if (nl == 6 && !memcmp(name, "EVENTS", 6)) {
            if (p->events && p->events_len && p->packed)
                buf_put(out, p->events, p->events_len);
            else if (p->events && p->events_len)
                page_json_for_script(out, p->events, p->events_len);
        }
        t = close + 3;
    }
}

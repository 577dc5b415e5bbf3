/* stoat's front end: the same views for the offline report and the live
 * dashboard. Why it is built this way:
 * - One data-source interface with two implementations: "live" asks the JSON
 *   API, "report" answers the same questions from the data inlined in the
 *   page. Views never know which one they talk to.
 * - The DOM is built with textContent and attributes only (the h() helper),
 *   never from HTML strings, so nothing read from logs can become markup.
 * - Long lists are paged (100 rows) and the report's filters run over plain
 *   arrays, so 100,000 alerts stay responsive without a framework.
 * - No dependencies, no network in the report: everything is in this file. */
(function () {
  'use strict';

  var MODE = document.documentElement.getAttribute('data-mode') === 'live' ? 'live' : 'report';
  var LEVELS = ['none', 'informational', 'low', 'medium', 'high', 'critical'];
  var STATES = ['new', 'acknowledged', 'false-positive', 'closed'];
  /* ATT&CK's tactics in kill-chain order; "defense-evasion" is what older
     rules (ours among them) tag, since split into stealth and impairment */
  var TACTICS = ['reconnaissance', 'resource-development', 'initial-access', 'execution', 'persistence',
    'privilege-escalation', 'stealth', 'defense-impairment', 'defense-evasion', 'credential-access', 'discovery',
    'lateral-movement', 'collection', 'command-and-control', 'exfiltration', 'impact'];
  var TECH = techniqueTable();
  var PAGE = 100, INC_PAGE = 200;   /* INC_PAGE: STOAT_INCIDENT_PAGE of the store */
  var app = document.getElementById('app');

  /* ------------------------------------------------------------ helpers */

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null || attrs[k] === false) continue;
        if (k === 'class') el.className = attrs[k];
        else if (k === 'text') el.textContent = attrs[k];
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
        else el.setAttribute(k, attrs[k] === true ? '' : String(attrs[k]));
      }
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function lvl(l) { return h('span', { class: 'lvl lvl-' + (l | 0), text: LEVELS[l | 0] || '?' }); }
  function stateTag(s) { return h('span', { class: 'state state-' + (s | 0), text: STATES[s | 0] || '?' }); }
  function fmtTime(ns) {
    if (!ns) return '–';
    var d = new Date(Math.floor(ns / 1e6));
    return d.toISOString().replace('T', ' ').slice(0, 19);
  }
  function fmtNum(n) { return (n || 0).toLocaleString('en-US'); }
  function base(p) { if (!p) return ''; var i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/')); return i >= 0 ? p.slice(i + 1) : p; }
  function link(href, text, cls) { return h('a', { href: href, class: cls, text: text }); }
  function qs(obj) {
    var parts = [];
    Object.keys(obj).forEach(function (k) { if (obj[k] !== '' && obj[k] != null) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(obj[k])); });
    return parts.join('&');
  }
  function parseHash() {
    var hs = location.hash.replace(/^#\/?/, '');
    var qi = hs.indexOf('?');
    var path = qi >= 0 ? hs.slice(0, qi) : hs;
    var q = {};
    if (qi >= 0) hs.slice(qi + 1).split('&').forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf('=');
      try { q[decodeURIComponent(i >= 0 ? kv.slice(0, i) : kv)] = decodeURIComponent(i >= 0 ? kv.slice(i + 1) : ''); } catch (e) { /* a bad escape: ignored */ }
    });
    return { parts: path.split('/').filter(Boolean), q: q };
  }
  /* data/attack-techniques.tsv, put in the page by the C side: ID -> name
     and the technique's own tactics (a sub-technique falls back on its parent) */
  function techniqueTable() {
    var out = {}, el = document.getElementById('stoat-attack');
    ((el && el.textContent) || '').split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === '#') return;
      var c = line.split('\t');
      if (c.length >= 3) out[c[0]] = { name: c[1], tactics: c[2].split(',').filter(Boolean) };
    });
    return out;
  }
  function techInfo(id) { id = String(id || '').toUpperCase(); return TECH[id] || TECH[id.split('.')[0]] || null; }
  function techName(id) {
    var t = TECH[String(id || '').toUpperCase()];
    if (t) return t.name;
    var p = techInfo(id);
    return p ? p.name + ' (sub-technique)' : '';
  }
  function tacticOrder(t) { var i = TACTICS.indexOf(t); return i < 0 ? 99 : i; }

  /* ------------------------------------------------------------ live source */

  var csrf = (document.querySelector('meta[name="stoat-csrf"]') || {}).content || '';
  function api(path) {
    return fetch(path, { headers: { 'Accept': 'application/json' }, credentials: 'same-origin' }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
        return j;
      });
    });
  }
  function filterQuery(f) {
    return qs({ host: f.host, rule: f.rule, tactic: f.tactic, technique: f.technique, q: f.q, level: f.level,
      state: f.state, incident: f.incident, cursor: f.cursor, limit: f.limit });
  }
  var live = {
    overview: function () { return api('/api/overview'); },
    alerts: function (f) { return api('/api/alerts?' + filterQuery(f)); },
    alert: function (id) { return api('/api/alerts/' + encodeURIComponent(id)); },
    incidents: function (f) { return api('/api/incidents?' + filterQuery(f)); },
    incident: function (id) { return api('/api/incidents/' + encodeURIComponent(id)); },
    incidentAlerts: function (id, off, host) { return api('/api/incidents/' + encodeURIComponent(id) + '/alerts?' + qs({ host: host, offset: off })); },
    hosts: function () { return api('/api/hosts'); },
    rules: function () { return api('/api/rules'); },
    fleet: function () { return api('/api/fleet'); },
    version: function () { return api('/api/version'); },
    setTriage: function (kind, id, state, note, who) {
      return fetch('/api/triage', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Stoat-CSRF': csrf },
        body: JSON.stringify({ kind: kind, id: id, state: STATES[state], note: note, who: who })
      }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; }); });
    }
  };

  /* ------------------------------------------------------------ report source */

  function reportSource(D) {
    var rules = {}, events = null, procs = D.procs || {}, corrs = D.corrs || {}, corrOf = {};
    Object.keys(corrs).forEach(function (k) { (corrs[k].alerts || []).forEach(function (id) { (corrOf[id] = corrOf[id] || []).push(+k); }); });
    function eventOf(id) {
      if (!events) events = unpack('stoat-events').then(function (t) { return t ? JSON.parse(t) : {}; });
      return events.then(function (all) { return all[id]; });
    }
    (D.rules || []).forEach(function (r) { rules[r.id] = r; });
    var storeKey = 'stoat-report:' + (D.meta && D.meta.id || 'x');
    var saved = {};
    try { saved = JSON.parse(localStorage.getItem(storeKey) || '{}') || {}; } catch (e) { saved = {}; }
    var alerts = D.alerts.map(function (a) {
      var p = a[12] != null && procs[a[12]] || [];
      return { id: a[0], ns: a[1], ts: a[2], host: D.hosts[a[3]], level: a[4], rule: a[5], title: (rules[a[5]] || {}).title,
        image: a[6] != null ? a[6] : p[1], cmd: a[7] != null ? a[7] : p[2], user: a[8] != null ? a[8] : p[3],
        state: a[9], logon: a[10], run: a[11], proc: a[12], ev: a[13], corr: !!(rules[a[5]] || {}).correlation || undefined };
    });
    alerts.sort(function (x, y) { return y.ns - x.ns || y.id - x.id; });
    var byId = {};
    alerts.forEach(function (a) { byId[a.id] = a; });
    var incidents = D.incidents || [];
    var incOfAlert = {};
    incidents.forEach(function (i) { (i.alerts || []).forEach(function (id) { (incOfAlert[id] = incOfAlert[id] || []).push(i.id); }); });
    var triage = D.triage || {};
    function history(key) {
      var mine = (saved[key] || []).slice().reverse();
      return mine.concat(triage[key] || []);
    }
    Object.keys(saved).forEach(function (key) {
      var last = saved[key][saved[key].length - 1];
      if (!last) return;
      var id = +key.slice(2);
      if (key[0] === 'a' && byId[id]) byId[id].state = last.state;
      if (key[0] === 'i') incidents.forEach(function (i) { if (i.id === id) i.state = last.state; });
    });
    var lowered = null;
    function text(a) {
      if (!lowered) lowered = {};
      var t = lowered[a.id];
      if (t === undefined) {
        var r = rules[a.rule] || {};
        t = lowered[a.id] = [a.title, a.host, a.image, a.cmd, a.user, (r.techniques || []).join(' ')].join(' ').toLowerCase();
      }
      return t;
    }
    function ruleMatch(a, f) {
      var r = rules[a.rule] || {};
      if (f.rule && String(a.rule) !== String(f.rule) && r.uid !== f.rule && r.title !== f.rule) return false;
      if (f.tactic && (r.tactics || []).indexOf(f.tactic) < 0) return false;
      if (f.technique && !(r.techniques || []).some(function (t) { return t === f.technique || t.indexOf(f.technique + '.') === 0; })) return false;
      return true;
    }
    function matches(f) {
      var words = (f.q || '').toLowerCase().split(/\s+/).filter(Boolean);
      var inc = f.incident ? {} : null;
      if (inc) incidents.forEach(function (i) { if (String(i.id) === String(f.incident)) (i.alerts || []).forEach(function (id) { inc[id] = 1; }); });
      var minL = +f.level || 0, st = f.state === '' || f.state == null ? -1 : STATES.indexOf(f.state);
      return alerts.filter(function (a) {
        if (f.host && a.host !== f.host) return false;
        if (minL && a.level < minL) return false;
        if (st >= 0 && a.state !== st) return false;
        if (inc && !inc[a.id]) return false;
        if ((f.rule || f.tactic || f.technique) && !ruleMatch(a, f)) return false;
        if (words.length) { var t = text(a); for (var i = 0; i < words.length; i++) if (t.indexOf(words[i]) < 0) return false; }
        return true;
      });
    }
    function chain(pid) {
      var out = [], seen = {};
      while (pid && procs[pid] && !seen[pid] && out.length < 64) {
        seen[pid] = 1;
        out.push(procNode(pid));
        pid = procs[pid][0];
      }
      return out;
    }
    function procNode(id) {
      var p = procs[id];
      return { id: +id, parent: p[0], image: p[1], cmd: p[2], user: p[3], pid: p[4], start: p[5], guid: p[6] };
    }
    function counts() {
      var hosts = {}, rc = {}, hours = {}, attack = {};
      alerts.forEach(function (a) {
        var x = hosts[a.host] || (hosts[a.host] = { host: a.host, n: 0, max: 0, levels: [0, 0, 0, 0, 0, 0], first: 0, last: 0, incidents: 0, open: 0 });
        x.n++; x.levels[a.level]++; if (a.level > x.max) x.max = a.level;
        if (a.ns && (!x.first || a.ns < x.first)) x.first = a.ns;
        if (a.ns > x.last) x.last = a.ns;
        var y = rc[a.rule] || (rc[a.rule] = { n: 0, hostset: {}, rule: rules[a.rule] || { id: a.rule, title: a.title, level: a.level } });
        y.n++; y.hostset[a.host] = 1;
        if (a.ns > 0) { var hr = Math.floor(a.ns / 3.6e12), k = hr + ':' + a.level; hours[k] = (hours[k] || 0) + 1; }
      });
      incidents.forEach(function (i) { var x = hosts[i.host]; if (x) { x.incidents++; if (!i.state) x.open++; } });
      var hl = Object.keys(hosts).map(function (k) { return hosts[k]; }).sort(function (a, b) { return b.max - a.max || b.n - a.n; });
      var rl = Object.keys(rc).map(function (k) { var y = rc[k]; return { n: y.n, hosts: Object.keys(y.hostset).length, rule: y.rule }; })
        .sort(function (a, b) { return b.n - a.n; });
      rl.forEach(function (y) {
        var r = y.rule;
        (r.tactics || []).forEach(function (t) {
          var techs = (r.techniques || []).length ? r.techniques : [null];
          techs.forEach(function (q) { var k = t + '|' + q; var z = attack[k] || (attack[k] = [t, q, 0, 0]); z[2] += y.n; z[3] = Math.max(z[3], r.level || 0); });
        });
      });
      var techs = {};
      rl.forEach(function (y) {
        var r = y.rule;
        (r.techniques || []).forEach(function (q) {
          var z = techs[q] || (techs[q] = [q, 0, 0, {}]);
          z[1] += y.n; z[2] = Math.max(z[2], r.level || 0);
          (r.tactics || []).forEach(function (t) { z[3][t] = 1; });
        });
      });
      var hl2 = Object.keys(hours).map(function (k) { var p = k.split(':'); return [+p[0], +p[1], hours[k]]; }).sort(function (a, b) { return a[0] - b[0]; });
      return { hosts: hl, rules: rl, hours: hl2, attack: Object.keys(attack).map(function (k) { return attack[k]; }),
        techniques: Object.keys(techs).map(function (k) { var z = techs[k]; return [z[0], z[1], z[2], Object.keys(z[3]).join(',')]; }) };
    }
    var cached = null;
    function incList(f) {
      var minL = +f.level || 0, st = f.state === '' || f.state == null ? -1 : STATES.indexOf(f.state), q = (f.q || '').toLowerCase();
      return incidents.filter(function (i) {
        if (f.host && i.host !== f.host) return false;
        if (minL && i.level < minL) return false;
        if (st >= 0 && i.state !== st) return false;
        if (f.tactic && (i.tactics || []).indexOf(f.tactic) < 0) return false;
        if (q && (i.title + ' ' + i.host).toLowerCase().indexOf(q) < 0) return false;
        return true;
      }).sort(function (a, b) { return (!!b.state === false) - (!!a.state === false) || b.level - a.level || b.score - a.score || b.last - a.last; });
    }
    function incItem(i) {
      var o = {}; for (var k in i) if (k !== 'alerts') o[k] = i[k];
      return o;
    }
    function resolve(v) { return Promise.resolve(v); }
    /* an incident's alerts in event time, a page of them with their trees,
       and all of them grouped by rule and top of their process tree: the
       same shapes as the dashboard's API (src/store/incident.c) */
    function incAlerts(inc) {
      return (inc.alerts || []).map(function (x) { return byId[x]; }).filter(Boolean).sort(function (a, b) { return a.ns - b.ns || a.id - b.id; });
    }
    function incPage(al, off) {
      var page = al.slice(off, off + INC_PAGE), nodes = {};
      page.forEach(function (a) { chain(a.proc).forEach(function (n) { nodes[n.id] = n; }); });
      var tree = Object.keys(nodes).map(function (k) { return nodes[k]; }).sort(function (a, b) { return (a.start || 0) - (b.start || 0) || a.id - b.id; });
      return { alerts: page, tree: tree, offset: off, total: al.length, next: off + INC_PAGE < al.length ? off + INC_PAGE : null };
    }
    function topOf(pid) { var c = chain(pid); return c.length ? c[c.length - 1] : null; }
    function incGroups(al) {
      var g = {}, r = {}, tops = {};
      al.forEach(function (a) {
        if (a.proc != null && !(a.proc in tops)) tops[a.proc] = topOf(a.proc);
        var top = a.proc != null ? tops[a.proc] : null, k = a.rule + '|' + (top ? top.id : '');
        var x = g[k] || (g[k] = { rule: a.rule, uid: (rules[a.rule] || {}).uid, title: a.title, level: a.level, n: 0, first: a.ns, last: a.ns, alert: a.id,
          root: top ? { id: top.id, image: top.image, pid: top.pid, seen: top.start != null } : null });
        x.n++; if (a.ns < x.first) x.first = a.ns; if (a.ns > x.last) x.last = a.ns; if (a.id < x.alert) x.alert = a.id;
      });
      Object.keys(g).forEach(function (k) {
        var x = g[k], y = r[x.rule] || (r[x.rule] = { rule: x.rule, uid: x.uid, title: x.title, level: x.level, n: 0, first: x.first, last: x.last, alert: x.alert, trees: 0 });
        y.n += x.n; y.first = Math.min(y.first, x.first); y.last = Math.max(y.last, x.last); y.alert = Math.min(y.alert, x.alert); if (x.root) y.trees++;
      });
      function big(a, b) { return b.n - a.n || a.first - b.first; }
      return { by_rule: Object.keys(r).map(function (k) { return r[k]; }).sort(big),
        groups: Object.keys(g).map(function (k) { return g[k]; }).sort(big).slice(0, 300) };
    }
    return {
      overview: function () {
        cached = cached || counts();
        var open = incidents.filter(function (i) { return !i.state; }).length;
        return resolve({ hosts: cached.hosts, rules: cached.rules.slice(0, 50), hours: cached.hours, attack: cached.attack,
          techniques: cached.techniques,
          incidents: incList({}).slice(0, 20).map(incItem), total: alerts.length, nincidents: incidents.length, open: open,
          runs: (D.meta.runs || []).length, recent_runs: (D.meta.runs || []).slice(-10).reverse() });
      },
      alerts: function (f) {
        var list = matches(f), off = +f.cursor || 0;
        var page = list.slice(off, off + PAGE);
        return resolve({ alerts: page, next: off + PAGE < list.length ? String(off + PAGE) : null, total: list.length, more: false });
      },
      alert: function (id) {
        var a = byId[id];
        if (!a) return Promise.reject(new Error('no alert ' + id));
        return eventOf(a.ev).then(function (e) {
          var c = corrs[a.id];
          return { alert: a, rule: rules[a.rule] || {}, tree: chain(a.proc), event: e || null,
            correlation: c ? { type: c.type, value: c.value, first: c.first, last: c.last, group: c.group || {}, evidence: c.evidence || [],
              alerts: (c.alerts || []).map(function (x) { return byId[x]; }).filter(Boolean) } : null,
            correlations: corrOf[a.id] || [], incidents: incOfAlert[a.id] || [], triage: history('a:' + a.id) };
        });
      },
      incidents: function (f) { var l = incList(f); return resolve({ incidents: l.map(incItem), total: l.length }); },
      incident: function (id) {
        var inc = incidents.filter(function (i) { return String(i.id) === String(id); })[0];
        if (!inc) return Promise.reject(new Error('no incident ' + id));
        var al = incAlerts(inc), g = incGroups(al), pg = incPage(al, 0), bh = {};
        al.forEach(function (a) {
          var x = bh[a.host] || (bh[a.host] = { host: a.host, n: 0, first: a.ns, last: a.ns });
          x.n++; x.last = a.ns;
        });
        return resolve({ incident: incItem(inc), alerts: pg.alerts, tree: pg.tree, total: pg.total, next: pg.next, offset: 0,
          by_rule: g.by_rule, groups: g.groups, evidence: inc.evidence || [], triage: history('i:' + inc.id),
          edges: inc.edges, by_host: inc.hosts ? Object.keys(bh).map(function (k) { return bh[k]; }) : undefined });
      },
      incidentAlerts: function (id, off, host) {
        var inc = incidents.filter(function (i) { return String(i.id) === String(id); })[0];
        if (!inc) return Promise.reject(new Error('no incident ' + id));
        var al = incAlerts(inc);
        if (host != null) al = al.filter(function (a) { return a.host === host; });
        return resolve(incPage(al, +off || 0));
      },
      hosts: function () { cached = cached || counts(); return resolve({ hosts: cached.hosts }); },
      rules: function () { cached = cached || counts(); return resolve({ rules: cached.rules }); },
      fleet: function () { return resolve({ hosts: [] }); },   /* heartbeats are the live dashboard's */
      setTriage: function (kind, id, state, note, who) {
        var key = (kind === 'incident' ? 'i:' : 'a:') + id;
        (saved[key] = saved[key] || []).push({ state: state, note: note || null, who: who || null, at: Date.now() * 1e6 });
        try { localStorage.setItem(storeKey, JSON.stringify(saved)); } catch (e) { return Promise.reject(new Error('the browser refused to save: ' + e.message)); }
        if (kind === 'incident') incidents.forEach(function (i) { if (String(i.id) === String(id)) i.state = state; });
        else if (byId[id]) byId[id].state = state;
        return resolve({ ok: true });
      }
    };
  }

  /* The report's data: JSON, or (as stoat report writes it) base64 of
     gzip, undone by the browser's own DecompressionStream. */
  function unpack(id) {
    var text = (document.getElementById(id) || {}).textContent || '';
    if (!text || text.charAt(0) === '{') return Promise.resolve(text);
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }

  var src = live, meta = {};

  /* ------------------------------------------------------------ common UI */

  function section(title) { var p = h('section', { class: 'panel' }); if (title) p.appendChild(h('h2', { text: title })); for (var i = 1; i < arguments.length; i++) add(p, arguments[i]); return p; }
  function fail(e) { clear(app).appendChild(h('p', { class: 'err', text: String(e && e.message || e) })); }
  function chainEl(tactics) {
    var t = (tactics || []).slice().sort(function (a, b) { return tacticOrder(a) - tacticOrder(b); });
    var out = h('div', { class: 'chain' });
    t.forEach(function (x, i) { if (i) out.appendChild(h('i', { text: '→' })); out.appendChild(h('span', { text: x.replace(/-/g, ' ') })); });
    return out;
  }
  function incidentCard(i) {
    return h('div', { class: 'inc', 'data-incident': i.id, onclick: function () { location.hash = '#/incident/' + i.id; } },
      h('div', { class: 'stripe bar-' + i.level }),
      h('div', { class: 'title' }, lvl(i.level), ' ', link('#/incident/' + i.id, i.title || ('Incident ' + i.id)), ' ', stateTag(i.state)),
      h('div', { class: 'score', text: Math.round(i.score || 0) }, h('small', { text: 'score' })),
      h('div', { class: 'meta' }, h('b', { text: i.host }), i.logon ? ' · logon ' + i.logon : '', ' · ', fmtTime(i.first), ' → ', fmtTime(i.last),
        ' · ', fmtNum(i.n), ' alerts', chainEl(i.tactics)));
  }
  function levelBar(levels, total) {
    var bar = h('div', { class: 'hbar', title: levels.map(function (n, l) { return n ? LEVELS[l] + ': ' + n : ''; }).filter(Boolean).join(', ') });
    for (var l = 5; l >= 0; l--) if (levels[l]) bar.appendChild(h('div', { class: 'bar-' + l, style: 'width:' + (100 * levels[l] / Math.max(1, total)).toFixed(2) + '%' }));
    return bar;
  }

  function chart(hours) {
    var wrap = h('div', { class: 'chart' });
    if (!hours.length) { wrap.appendChild(h('p', { class: 'muted', text: 'No timed alerts.' })); return wrap; }
    var h0 = hours[0][0], h1 = hours[hours.length - 1][0], span = h1 - h0 + 1;
    var per = Math.max(1, Math.ceil(span / 96)), nb = Math.ceil(span / per), bins = [];
    for (var i = 0; i < nb; i++) bins.push([0, 0, 0, 0, 0, 0]);
    hours.forEach(function (x) { bins[Math.floor((x[0] - h0) / per)][x[1]] += x[2]; });
    var max = 1; bins.forEach(function (b) { var s = b.reduce(function (p, c) { return p + c; }, 0); if (s > max) max = s; });
    var NS = 'http://www.w3.org/2000/svg', W = 1000, H = 180, top = 8, bot = 22, left = 40;
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H); svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', 'Alerts by level over time');
    var bw = (W - left) / nb;
    function t(x, y, s, anchor) { var e = document.createElementNS(NS, 'text'); e.setAttribute('x', x); e.setAttribute('y', y); e.setAttribute('class', 'axis'); if (anchor) e.setAttribute('text-anchor', anchor); e.textContent = s; svg.appendChild(e); }
    t(left - 6, top + 8, fmtNum(max), 'end'); t(left - 6, H - bot, '0', 'end');
    bins.forEach(function (b, i) {
      var y = H - bot;
      for (var l = 0; l <= 5; l++) {
        if (!b[l]) continue;
        var hh = (H - bot - top) * b[l] / max;
        var r = document.createElementNS(NS, 'rect');
        r.setAttribute('x', (left + i * bw + 0.5).toFixed(1)); r.setAttribute('width', Math.max(1, bw - 1).toFixed(1));
        r.setAttribute('y', (y - hh).toFixed(1)); r.setAttribute('height', hh.toFixed(1)); r.setAttribute('class', 'bar-' + l);
        var tt = document.createElementNS(NS, 'title'); tt.textContent = fmtTime((h0 + i * per) * 3.6e12) + ' UTC: ' + b[l] + ' ' + LEVELS[l];
        r.appendChild(tt); svg.appendChild(r); y -= hh;
      }
    });
    /* month-day hour:minute, with the year when the span crosses one */
    var ticks = Math.min(6, nb), years = fmtTime(h0 * 3.6e12).slice(0, 4) !== fmtTime(h1 * 3.6e12).slice(0, 4);
    for (var k = 0; k < ticks; k++) { var bi = Math.floor(k * nb / ticks); t(left + bi * bw, H - 6, fmtTime((h0 + bi * per) * 3.6e12).slice(years ? 0 : 5, 16), 'start'); }
    wrap.appendChild(svg);
    var lg = h('div', { class: 'legend' });
    [5, 4, 3, 2, 1].forEach(function (l) { lg.appendChild(h('span', { style: '--c: var(--' + ['none', 'info', 'low', 'med', 'high', 'crit'][l] + ')', text: LEVELS[l] })); });
    lg.appendChild(h('span', { class: 'muted', style: '--c: transparent', text: (per === 1 ? 'one bar per hour' : 'one bar per ' + per + ' hours') + ', UTC' }));
    wrap.appendChild(lg);
    return wrap;
  }

  /* One column per tactic, wrapping onto more rows rather than scrolling
     sideways. A technique sits under its own tactics (the technique table),
     not under every tactic its rule is tagged with: a rule tagged
     persistence and T1105 puts T1105 under command and control only. A
     technique the table does not know falls back on its rules' tactics
     (marked so); alerts of rules without techniques count per tactic. */
  function matrix(o) {
    var cells = [], by = {}, max = 1;
    (o.techniques || []).forEach(function (x) {
      var info = techInfo(x[0]);
      var tacs = info ? info.tactics : String(x[3] || '').split(',').filter(Boolean);
      tacs.forEach(function (t) { cells.push({ tactic: t, tech: x[0], n: x[1], level: x[2], guessed: !info }); });
    });
    (o.attack || []).forEach(function (x) { if (x[1] == null) cells.push({ tactic: x[0], tech: null, n: x[2], level: x[3] }); });
    cells.forEach(function (c) { (by[c.tactic] = by[c.tactic] || []).push(c); if (c.n > max) max = c.n; });
    var m = h('div', { class: 'matrix', id: 'attack-matrix' });
    var tactics = TACTICS.filter(function (t) { return t !== 'defense-evasion' || by[t]; });
    Object.keys(by).forEach(function (t) { if (tactics.indexOf(t) < 0) tactics.push(t); });
    tactics.forEach(function (t) {
      var col = h('div', { class: 'col', 'data-tactic': t }, h('div', { class: 'tac', text: t.replace(/-/g, ' ') }));
      var list = (by[t] || []).sort(function (a, b) { return b.n - a.n || String(a.tech).localeCompare(String(b.tech)); });
      if (!list.length) col.appendChild(h('div', { class: 'empty', text: '—' }));
      list.forEach(function (c) {
        var a = 0.12 + 0.78 * Math.log(1 + c.n) / Math.log(1 + max);
        var rgb = c.level >= 5 ? '155,28,28' : c.level >= 4 ? '209,67,47' : c.level >= 3 ? '217,138,0' : '43,138,158';
        var href = '#/alerts?' + qs(c.tech ? { technique: c.tech } : { tactic: t });
        var name = c.tech ? techName(c.tech) : '';
        col.appendChild(h('a', { class: 'cell', href: href, 'data-technique': c.tech || '',
          style: 'background: rgba(' + rgb + ',' + a.toFixed(2) + ');' + (a > 0.55 ? 'color:#fff' : ''),
          title: (c.tech ? c.tech + (name ? ' ' + name : '') + ': ' : '') + fmtNum(c.n) + ' alerts' +
            (c.guessed ? ' (not in the technique table: placed by its rules\' tactics)' : '') },
          h('span', { class: 'tid', text: c.tech || '(tactic only)' }), h('b', { text: fmtNum(c.n) }),
          name ? h('span', { class: 'tname', text: name }) : null));
      });
      m.appendChild(col);
    });
    return m;
  }

  /* ------------------------------------------------------------ triage */

  var who = '';
  try { who = localStorage.getItem('stoat-who') || ''; } catch (e) { who = ''; }
  function triagePanel(kind, id, state, hist, after) {
    var sel = h('select', { id: 'triage-state', 'aria-label': 'Triage state' });
    STATES.forEach(function (s, i) { sel.appendChild(h('option', { value: i, text: s, selected: i === state })); });
    var note = h('textarea', { id: 'triage-note', placeholder: 'What did you check? (kept with the state)', maxlength: 4000 });
    var whoIn = h('input', { id: 'triage-who', placeholder: 'Your name', value: who, maxlength: 100 });
    var msg = h('span', { class: 'muted', id: 'triage-msg' });
    var btn = h('button', { class: 'primary', id: 'triage-save', text: 'Save', onclick: function () {
      btn.disabled = true; msg.textContent = 'Saving…';
      who = whoIn.value.trim();
      try { localStorage.setItem('stoat-who', who); } catch (e) { /* private mode */ }
      src.setTriage(kind, id, +sel.value, note.value.trim(), who).then(function () {
        msg.textContent = 'Saved.'; btn.disabled = false; after();
      }, function (e) { msg.textContent = 'Not saved: ' + e.message; btn.disabled = false; });
    } });
    var list = h('ul', { class: 'hist' });
    (hist || []).forEach(function (t) {
      list.appendChild(h('li', null, stateTag(t.state), ' ', t.who || 'someone', ', ', fmtTime(t.at), t.note ? ' — ' + t.note : ''));
    });
    return section('Triage',
      h('div', { class: 'triage' }, h('span', null, 'State: ', h('b', { class: 'triage-current', text: STATES[state] })), sel, whoIn, btn, msg), note,
      MODE === 'report' ? h('p', { class: 'muted', text: 'In a report file the triage is kept in this browser only.' }) : null,
      hist && hist.length ? list : null);
  }

  /* ------------------------------------------------------------ process trees */

  function ptree(nodes, alerts) {
    if (!nodes || !nodes.length) return h('p', { class: 'muted', id: 'ptree-none', text: 'No process ancestry was recorded for this.' });
    var byId = {}, kids = {}, roots = [], hits = {};
    nodes.forEach(function (n) { byId[n.id] = n; });
    (alerts || []).forEach(function (a) { if (a.proc) (hits[a.proc] = hits[a.proc] || []).push(a); });
    nodes.forEach(function (n) { if (n.parent && byId[n.parent] && n.parent !== n.id) (kids[n.parent] = kids[n.parent] || []).push(n); else roots.push(n); });
    var seen = {};
    function item(n, depth) {
      if (seen[n.id] || depth > 64) return null;
      seen[n.id] = 1;
      var hl = hits[n.id] || [], maxL = 0;
      hl.forEach(function (a) { if (a.level > maxL) maxL = a.level; });
      /* a process known only from a child's event (a parent whose start the
         logs do not hold) says so, with what is known of it */
      var unseen = !n.image || (n.start == null && n.id > 0);
      var box = h('div', { class: 'pnode' + (hl.length ? ' hit l' + maxL : '') + (unseen ? ' unseen' : ''), 'data-proc': n.id },
        h('span', { class: 'img', text: base(n.image) || 'process not in the logs', title: n.image || '' }),
        n.pid != null && n.pid !== '' ? h('span', { class: 'pid', text: 'pid ' + n.pid }) : null,
        n.user ? h('span', { class: 'usr', text: n.user }) : null,
        unseen && n.image ? h('span', { class: 'muted nil', text: 'start not in the logs' }) : null,
        unseen && !n.image && n.pid == null ? h('span', { class: 'muted nil', text: 'nothing else is known of it' }) : null,
        n.cmd ? h('div', { class: 'cl', text: n.cmd }) : null,
        hl.length ? h('div', { class: 'hits' }, hl.map(function (a) { return [lvl(a.level), ' ', link('#/alert/' + a.id, a.title)]; })) : null);
      var li = h('li', null, box);
      var ch = (kids[n.id] || []).sort(function (a, b) { return (a.start || 0) - (b.start || 0) || a.id - b.id; });
      if (ch.length) { var ul = h('ul'); ch.forEach(function (c) { var x = item(c, depth + 1); if (x) ul.appendChild(x); }); li.appendChild(ul); }
      return li;
    }
    var top = h('ul', { class: 'ptree', id: 'ptree' });
    roots.forEach(function (r) { var x = item(r, 0); if (x) top.appendChild(x); });
    return top;
  }

  /* Without recorded ancestry, the event itself often names the process and
     its parent (Sysmon, 4688): a two-level tree is better than none. */
  function treeFromFields(f, a) {
    function one(k) { var v = f[k]; return Array.isArray(v) ? String(v[0]) : v == null ? null : String(v); }
    var img = one('Image') || one('NewProcessName') || one('exe');
    if (!img) return [];
    var nodes = [], parent = one('ParentImage') || one('ParentProcessName');
    if (parent) nodes.push({ id: -2, parent: null, image: parent, cmd: one('ParentCommandLine'), user: one('ParentUser'), pid: one('ParentProcessId') });
    nodes.push({ id: -1, parent: parent ? -2 : null, image: img, cmd: one('CommandLine') || one('proctitle'), user: one('User') || one('SubjectUserName'), pid: one('ProcessId') });
    a.proc = -1;
    return nodes;
  }

  /* ------------------------------------------------------------ views */

  var views = {};
  var current = null;

  views.overview = function () {
    return src.overview().then(function (o) {
      var lv = [0, 0, 0, 0, 0, 0];
      o.hosts.forEach(function (x) { x.levels.forEach(function (n, l) { lv[l] += n; }); });
      var root = h('div');
      root.appendChild(h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'v', id: 'total-alerts', text: fmtNum(o.total) }), h('div', { class: 'k', text: 'alerts' })),
        h('div', { class: 'card crit' }, h('div', { class: 'v', text: fmtNum(lv[5]) }), h('div', { class: 'k', text: 'critical' })),
        h('div', { class: 'card high' }, h('div', { class: 'v', text: fmtNum(lv[4]) }), h('div', { class: 'k', text: 'high' })),
        h('div', { class: 'card' }, h('div', { class: 'v', text: fmtNum(o.open) + ' / ' + fmtNum(o.nincidents) }), h('div', { class: 'k', text: 'incidents open' })),
        h('div', { class: 'card' }, h('div', { class: 'v', text: fmtNum(o.hosts.length) }), h('div', { class: 'k', text: 'hosts with alerts' }))));
      var inc = section('Incidents');
      if (!o.incidents.length) inc.appendChild(h('p', { class: 'muted', text: 'No incidents: no chain of alerts was joined into a story.' }));
      o.incidents.forEach(function (i) { inc.appendChild(incidentCard(i)); });
      if (o.nincidents > o.incidents.length) inc.appendChild(link('#/incidents', 'All ' + fmtNum(o.nincidents) + ' incidents →'));
      root.appendChild(inc);
      root.appendChild(section('Alerts by level over time', chart(o.hours)));
      var ht = h('table', null, h('tr', null, h('th', { text: 'Host' }), h('th', { text: 'Worst' }), h('th', { text: 'Levels' }), h('th', { class: 'num', text: 'Alerts' }), h('th', { class: 'num', text: 'Incidents' })));
      o.hosts.slice(0, 12).forEach(function (x) {
        ht.appendChild(h('tr', { class: 'click', onclick: function () { location.hash = '#/alerts?' + qs({ host: x.host }); } },
          h('td', null, link('#/alerts?' + qs({ host: x.host }), x.host)), h('td', null, lvl(x.max)), h('td', null, levelBar(x.levels, x.n)),
          h('td', { class: 'n', text: fmtNum(x.n) }), h('td', { class: 'n', text: x.open ? x.open + ' open' : fmtNum(x.incidents) })));
      });
      var rt = h('table', null, h('tr', null, h('th', { text: 'Rule' }), h('th', { text: 'Level' }), h('th', { class: 'num', text: 'Hosts' }), h('th', { class: 'num', text: 'Alerts' })));
      o.rules.slice(0, 12).forEach(function (y) {
        rt.appendChild(h('tr', { class: 'click', onclick: function () { location.hash = '#/alerts?' + qs({ rule: y.rule.id }); } },
          h('td', null, link('#/alerts?' + qs({ rule: y.rule.id }), y.rule.title)), h('td', null, lvl(y.rule.level)),
          h('td', { class: 'n', text: fmtNum(y.hosts) }), h('td', { class: 'n', text: fmtNum(y.n) })));
      });
      root.appendChild(h('div', { class: 'grid2' }, section('Hosts on fire', ht), section('Top rules', rt)));
      root.appendChild(h('div', { style: 'height:16px' }));
      root.appendChild(section('ATT&CK techniques seen', matrix(o)));
      if (o.recent_runs && o.recent_runs.length) root.appendChild(section('Recent runs', runTable(o.recent_runs)));
      return root;
    });
  };

  /* "aborted": its writer went without recording its end (killed, crashed) */
  function runTable(runs) {
    var t = h('table', { id: 'runs-table' }, h('tr', null, h('th', { text: 'Run' }), h('th', { text: 'By' }), h('th', { text: 'Started' }),
      h('th', { text: 'Ended' }), h('th', { text: 'State' }), h('th', { class: 'num', text: 'Alerts' })));
    runs.forEach(function (r) {
      var who = r.producer + (r.pid ? ' (pid ' + r.pid + (r.host ? ' on ' + r.host : '') + ')' : '');
      t.appendChild(h('tr', { 'data-run': r.id }, h('td', { text: '#' + r.id }), h('td', { text: who }), h('td', { text: fmtTime(r.started) }),
        h('td', { text: fmtTime(r.ended) }), h('td', null, h('span', { class: 'run run-' + (r.status || 'done'), text: r.status || 'done' })),
        h('td', { class: 'n', text: r.alerts == null ? '–' : fmtNum(r.alerts) })));
    });
    return t;
  }

  function hostOptions(sel, chosen) {
    return src.hosts().then(function (r) {
      sel.appendChild(h('option', { value: '', text: 'All hosts' }));
      r.hosts.forEach(function (x) { sel.appendChild(h('option', { value: x.host, text: x.host + ' (' + fmtNum(x.n) + ')', selected: x.host === chosen })); });
    });
  }
  function filterBar(q, route, withRuleFilters) {
    function go(k, v) { var n = {}; for (var x in q) if (x !== 'cursor' && x !== 'page') n[x] = q[x]; n[k] = v; location.hash = '#/' + route + '?' + qs(n); }
    var host = h('select', { id: 'f-host', 'aria-label': 'Host', onchange: function () { go('host', host.value); } });
    var level = h('select', { id: 'f-level', 'aria-label': 'Lowest level', onchange: function () { go('level', level.value); } });
    level.appendChild(h('option', { value: '', text: 'Any level' }));
    [5, 4, 3, 2, 1].forEach(function (l) { level.appendChild(h('option', { value: l, text: LEVELS[l] + (l < 5 ? ' and above' : ''), selected: String(l) === q.level })); });
    var state = h('select', { id: 'f-state', 'aria-label': 'Triage state', onchange: function () { go('state', state.value); } });
    state.appendChild(h('option', { value: '', text: 'Any state' }));
    STATES.forEach(function (s) { state.appendChild(h('option', { value: s, text: s, selected: s === q.state })); });
    var tactic = h('select', { id: 'f-tactic', 'aria-label': 'Tactic', onchange: function () { go('tactic', tactic.value); } });
    tactic.appendChild(h('option', { value: '', text: 'Any tactic' }));
    TACTICS.forEach(function (t) { tactic.appendChild(h('option', { value: t, text: t.replace(/-/g, ' '), selected: t === q.tactic })); });
    var text = h('input', { id: 'f-q', type: 'search', placeholder: 'Search…', value: q.q || '' });
    var timer = null;
    text.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(function () { go('q', text.value); }, 350); });
    var bar = h('div', { class: 'filters' }, host, level, tactic, state, text,
      withRuleFilters && q.rule ? h('span', { class: 'chain' }, h('span', { text: 'rule ' + q.rule })) : null,
      withRuleFilters && q.technique ? h('span', { class: 'chain' }, h('span', { text: q.technique })) : null,
      withRuleFilters && q.incident ? h('span', { class: 'chain' }, h('span', { text: 'incident ' + q.incident })) : null,
      h('button', { text: 'Clear', onclick: function () { location.hash = '#/' + route; } }));
    return hostOptions(host, q.host || '').then(function () { return bar; });
  }

  views.incidents = function (p, q) {
    return Promise.all([filterBar(q, 'incidents', false), src.incidents(q)]).then(function (r) {
      var root = section('Incidents', r[0]);
      root.appendChild(h('p', { class: 'muted', id: 'inc-count', text: fmtNum(r[1].total) + ' incident' + (r[1].total === 1 ? '' : 's') }));
      r[1].incidents.forEach(function (i) { root.appendChild(incidentCard(i)); });
      return root;
    });
  };

  /* An incident of any size: its alerts grouped by rule (and, under each,
     by the top of their process tree) first, then the chain in time a page
     at a time (?at=OFFSET), with the process trees of that page only. */
  function alertItem(a) {
    return h('li', { class: 'l' + a.level, 'data-alert': a.id, onclick: function () { location.hash = '#/alert/' + a.id; } },
      h('div', { class: 'when', text: fmtTime(a.ns) + ' · ' + LEVELS[a.level] }),
      h('div', { class: 'what', text: a.title }),
      a.cmd || a.image ? h('div', { class: 'mono muted', text: a.cmd || a.image }) : null);
  }

  /* A fleet incident, host by host: the logons that joined the hosts, then
     each host's alerts in event time, a page at a time (?host=H&at=N pages
     that host), beside that host's process trees; as many hosts as the
     chain reached, at most FLEET_HOSTS drawn (the rest listed, linked). */
  var FLEET_HOSTS = 24;
  /* a link within the page (the hash is the route: it scrolls instead) */
  function jump(target, text) {
    return h('a', { href: location.hash, class: 'jump', text: text, onclick: function (ev) {
      ev.preventDefault(); var el = document.getElementById(target); if (el) el.scrollIntoView(); } });
  }
  function fleetParts(d, q) {
    var i = d.incident, counts = {}, hosts = i.hosts.slice(0, FLEET_HOSTS);
    (d.by_host || []).forEach(function (x) { counts[x.host] = x; });
    var et = h('table', { id: 'incident-edges' }, h('tr', null, h('th', { text: 'First (UTC)' }), h('th', { text: 'From' }),
      h('th', { text: 'To' }), h('th', { text: 'Account' }), h('th', { text: 'Via' })));
    (d.edges || []).forEach(function (e) {
      et.appendChild(h('tr', { class: 'edge' }, h('td', { class: 't', text: fmtTime(e.first) }), h('td', { text: e.from }),
        h('td', { text: e.to }), h('td', { text: e.account }),
        h('td', null, e.via || '', e['new'] ? [' ', h('span', { class: 'tag', text: 'new' })] : null)));
    });
    return Promise.all(hosts.map(function (name) {
      var at = q.host === name ? Math.max(0, +q.at || 0) : 0;
      return counts[name] ? src.incidentAlerts(i.id, at, name) : { alerts: [], tree: [], total: 0, offset: 0, next: null };
    })).then(function (pages) {
      var out = [section('Logons between the hosts', et)];
      pages.forEach(function (pg, k) { out.push(hostPart(i, hosts[k], pg)); });
      if (i.hosts.length > hosts.length) out.push(h('p', { class: 'muted', id: 'incident-more-hosts' }, 'and ' + (i.hosts.length - hosts.length) + ' more hosts: ',
        i.hosts.slice(hosts.length).map(function (n, k) { return [k ? ', ' : '', link('#/alerts?' + qs({ incident: i.id, host: n }), n)]; })));
      return out;
    });
  }
  function hostPart(i, name, pg) {
    var off = pg.offset || 0, total = pg.total || 0;
    var tl = h('ol', { class: 'timeline', start: off + 1 });
    pg.alerts.forEach(function (a) { tl.appendChild(alertItem(a)); });
    function goAt(n) { location.hash = '#/incident/' + i.id + '?' + qs({ host: name, at: n || '' }); }
    var pager = h('div', { class: 'pager' },
      h('span', { class: 'muted host-page', text: total ? 'alerts ' + fmtNum(off + 1) + '–' + fmtNum(off + pg.alerts.length) + ' of ' + fmtNum(total) : 'no alerts stored' }),
      off ? h('button', { class: 'host-prev', text: '← Earlier', onclick: function () { goAt(Math.max(0, off - INC_PAGE)); } }) : null,
      pg.next != null ? h('button', { class: 'host-next', text: 'Later →', onclick: function () { goAt(pg.next); } }) : null);
    return h('div', { class: 'grid2 host-part', 'data-host': name, id: 'host-' + name },
      section(name, h('div', { class: 'muted' }, link('#/alerts?' + qs({ incident: i.id, host: name }), 'its alerts in the list'), ' · ',
        jump('host-trees-' + name, 'its process trees')), pager, tl),
      h('div', { id: 'host-trees-' + name }, section('Process trees on ' + name, ptree(pg.tree, pg.alerts))));
  }

  views.incident = function (p, q) {
    var id = p[1], at = Math.max(0, +q.at || 0);
    return Promise.all([src.incident(id), at && !q.host ? src.incidentAlerts(id, at) : null]).then(function (r) {
      if (!(r[0].incident.hosts && r[0].incident.hosts.length)) return [r, null];
      return fleetParts(r[0], q).then(function (parts) { return [r, parts]; });
    }).then(function (rp) {
      var r = rp[0], parts = rp[1];
      var d = r[0], pg = r[1] || d, i = d.incident, root = h('div', { id: 'incident-view', 'data-id': i.id });
      root.appendChild(section(null,
        h('div', { class: 'head' }, lvl(i.level), h('h1', { text: i.title || ('Incident ' + i.id) }), stateTag(i.state),
          h('span', { class: 'muted', text: 'score ' + Math.round(i.score) + ' / 100' })),
        parts ? h('div', { class: 'muted', id: 'incident-hosts' }, 'Hosts ', i.hosts.map(function (n, k) { return [k ? ' → ' : '', jump('host-' + n, n)]; }),
          i.account ? ' · account ' + i.account : '', ' · ', fmtTime(i.first), ' → ', fmtTime(i.last), ' UTC · ', fmtNum(i.n), ' alerts')
          : h('div', { class: 'muted' }, 'Host ', link('#/alerts?' + qs({ host: i.host }), i.host), i.logon ? ', logon session ' + i.logon : '',
          ' · ', fmtTime(i.first), ' → ', fmtTime(i.last), ' UTC · ', fmtNum(i.n), ' alerts'),
        chainEl(i.tactics)));
      root.appendChild(triagePanel('incident', i.id, i.state, d.triage, function () { render(); }));
      root.appendChild(groupsPanel(i, d.by_rule || [], d.groups || []));
      if (parts) { parts.forEach(function (x) { root.appendChild(x); }); return root; }
      var total = pg.total != null ? pg.total : pg.alerts.length, off = pg.offset || 0;
      var tl = h('ol', { class: 'timeline', id: 'incident-timeline', start: off + 1 });
      pg.alerts.forEach(function (a) { tl.appendChild(alertItem(a)); });
      function goAt(n) { location.hash = '#/incident/' + i.id + (n ? '?' + qs({ at: n }) : ''); }
      var pager = h('div', { class: 'pager', id: 'incident-pager' },
        h('span', { class: 'muted', id: 'incident-page', text: total ? 'alerts ' + fmtNum(off + 1) + '–' + fmtNum(off + pg.alerts.length) + ' of ' + fmtNum(total) : 'no alerts stored' }),
        off ? h('button', { id: 'incident-prev', text: '← Earlier', onclick: function () { goAt(Math.max(0, off - INC_PAGE)); } }) : null,
        pg.next != null ? h('button', { id: 'incident-next', text: 'Later →', onclick: function () { goAt(pg.next); } }) : null);
      root.appendChild(h('div', { class: 'grid2' }, section('The chain, in time', pager, tl),
        section(total > pg.alerts.length ? 'Process trees of these alerts' : 'Process tree', ptree(pg.tree, pg.alerts))));
      return root;
    });
  };

  function procLabel(r) {
    if (!r) return 'no process recorded';
    var pid = r.pid != null ? 'pid ' + r.pid : '';
    if (!r.image) return 'process not in the logs' + (pid ? ' (' + pid + ')' : '');
    return base(r.image) + (pid ? ' (' + pid + ')' : '') + (r.seen === false ? ', start not in the logs' : '');
  }
  function groupsPanel(i, byRule, groups) {
    var t = h('table', { id: 'incident-groups' }, h('tr', null, h('th', { text: 'Rule / process tree' }), h('th', { text: 'Level' }),
      h('th', { class: 'num', text: 'Alerts' }), h('th', { text: 'First' }), h('th', { text: 'Last' })));
    byRule.forEach(function (y) {
      var href = '#/alerts?' + qs({ incident: i.id, rule: y.uid || y.title });
      t.appendChild(h('tr', { class: 'grp-rule', 'data-rule': y.rule },
        h('td', null, link(href, y.title), y.trees > 1 ? h('span', { class: 'muted', text: ' · ' + fmtNum(y.trees) + ' process trees' }) : null),
        h('td', null, lvl(y.level)), h('td', { class: 'n', text: fmtNum(y.n) }),
        h('td', { class: 't', text: fmtTime(y.first) }), h('td', { class: 't', text: fmtTime(y.last) })));
      groups.filter(function (g) { return g.rule === y.rule && g.root; }).slice(0, 3).forEach(function (g) {
        t.appendChild(h('tr', { class: 'grp-tree', 'data-rule': g.rule },
          h('td', { class: 'sub' }, 'under ', h('span', { class: 'mono', text: procLabel(g.root) }), ' · ', link('#/alert/' + g.alert, 'first alert')),
          h('td'), h('td', { class: 'n', text: fmtNum(g.n) }),
          h('td', { class: 't', text: fmtTime(g.first) }), h('td', { class: 't', text: fmtTime(g.last) })));
      });
    });
    return section('Alerts by rule and process tree', t);
  }

  views.alerts = function (p, q) {
    return Promise.all([filterBar(q, 'alerts', true), src.alerts(q)]).then(function (r) {
      var res = r[1], root = section('Alerts', r[0]);
      root.appendChild(h('p', { class: 'muted', id: 'alert-count', text: fmtNum(res.total) + (res.more ? '+' : '') + ' alert' + (res.total === 1 && !res.more ? '' : 's') +
        (res.order === 'stored' ? ' · many matches: newest stored first' : '') }));
      if (res.partial) root.appendChild(h('p', { class: 'banner', text: 'Few alerts match and the search stopped early: narrow it with a host, a rule or a level to see them all.' }));
      var t = h('table', { id: 'alerts-table' }, h('tr', null, h('th', { text: 'Time (UTC)' }), h('th', { text: 'Level' }), h('th', { text: 'Host' }), h('th', { text: 'Rule' }), h('th', { text: 'Process / command line' }), h('th', { text: 'State' })));
      res.alerts.forEach(function (a) {
        t.appendChild(h('tr', { class: 'click', 'data-alert': a.id, onclick: function () { location.hash = '#/alert/' + a.id; } },
          h('td', { class: 't', text: fmtTime(a.ns) }), h('td', null, lvl(a.level)), h('td', { text: a.host }),
          h('td', null, link('#/alert/' + a.id, a.title), a.corr ? [' ', h('span', { class: 'tag', text: 'correlation' })] : null),
          h('td', { class: 'cmd', title: a.cmd || a.image || '', text: a.cmd || a.image || '' }),
          h('td', null, stateTag(a.state))));
      });
      root.appendChild(t);
      var pager = h('div', { class: 'pager' });
      if (q.cursor) pager.appendChild(h('button', { text: '← First page', onclick: function () { var n = {}; for (var k in q) if (k !== 'cursor') n[k] = q[k]; location.hash = '#/alerts?' + qs(n); } }));
      if (res.next) pager.appendChild(h('button', { id: 'next-page', text: 'Older →', onclick: function () { var n = {}; for (var k in q) n[k] = q[k]; n.cursor = res.next; location.hash = '#/alerts?' + qs(n); } }));
      root.appendChild(pager);
      return root;
    });
  };

  views.alert = function (p) {
    return src.alert(p[1]).then(function (d) {
      var a = d.alert, r = d.rule || {}, root = h('div', { id: 'alert-view', 'data-id': a.id });
      root.appendChild(section(null,
        h('div', { class: 'head' }, lvl(a.level), h('h1', { text: a.title }), stateTag(a.state)),
        h('div', { class: 'muted' }, fmtTime(a.ns), ' UTC on ', link('#/alerts?' + qs({ host: a.host }), a.host), a.logon ? ' · logon ' + a.logon : '',
          d.incidents.length ? [' · part of ', d.incidents.map(function (i, k) { return [k ? ', ' : '', link('#/incident/' + i, 'incident ' + i)]; })] : '',
          (d.correlations || []).length ? [' · joined by ', d.correlations.map(function (c, k) { return [k ? ', ' : '', link('#/alert/' + c, 'correlation ' + c)]; })] : ''),
        chainEl(r.tactics),
        r.techniques && r.techniques.length ? h('div', { class: 'chain', id: 'alert-techniques' }, r.techniques.map(function (t) { var nm = techName(t); return h('a', { href: '#/alerts?' + qs({ technique: t }), text: t + (nm ? ' ' + nm : '') }); })) : null,
        r.description ? h('p', { text: r.description }) : null));
      root.appendChild(triagePanel('alert', a.id, a.state, d.triage, function () { render(); }));
      if (d.correlation) root.appendChild(corrPanel(d.correlation));
      var kv = h('dl', { class: 'kv', id: 'alert-fields' });
      var fields = d.event && d.event.fields || {};
      Object.keys(fields).forEach(function (k) {
        var v = fields[k];
        kv.appendChild(h('dt', { text: k }));
        kv.appendChild(h('dd', { text: Array.isArray(v) ? v.map(String).join('\n') : v === null ? 'null' : String(v) }));
      });
      var ev = d.event || {};
      var src2 = h('p', { class: 'muted', text: [ev.file, ev.line ? 'line ' + ev.line : ev.offset ? 'offset ' + ev.offset : '', ev.channel, ev.event_id ? 'event ' + ev.event_id : ''].filter(Boolean).join(' · ') });
      var tree = d.tree.slice().reverse(), from = null;
      if (!tree.length) { tree = treeFromFields(fields, a); if (tree.length) from = h('p', { class: 'muted', text: 'From the event\'s own parent fields; no ancestry was recorded.' }); }
      root.appendChild(h('div', { class: 'grid2' }, section('Process tree', from, ptree(tree, [a])),
        section('Event', src2, kv)));
      root.appendChild(h('div', { style: 'height:16px' }));
      root.appendChild(section('Rule', h('dl', { class: 'kv' },
        h('dt', { text: 'title' }), h('dd', { text: r.title || '' }),
        h('dt', { text: 'id' }), h('dd', { text: r.uid || '' }),
        h('dt', { text: 'status' }), h('dd', { text: r.status || '' }),
        h('dt', { text: 'logsource' }), h('dd', { text: [r.product, r.category, r.service].filter(Boolean).join(' / ') }),
        h('dt', { text: 'tags' }), h('dd', { text: (r.tags || []).join(', ') }),
        h('dt', { text: 'file' }), h('dd', { text: r.file || '' }))));
      return root;
    });
  };

  /* What a correlation saw: its type and value, the window, the group it
   * counted in, and the alerts it joins (when they were reported). */
  function corrPanel(c) {
    var g = c.group || {}, kv = h('dl', { class: 'kv', id: 'corr-detail' },
      h('dt', { text: 'type' }), h('dd', { text: c.type || '' }),
      h('dt', { text: 'value' }), h('dd', { text: c.value == null ? '' : String(c.value) }),
      h('dt', { text: 'window' }), h('dd', { text: fmtTime(c.first) + ' → ' + fmtTime(c.last) + ' UTC' }));
    Object.keys(g).forEach(function (k) {
      kv.appendChild(h('dt', { text: 'group: ' + k }));
      kv.appendChild(h('dd', { text: g[k] == null ? 'null' : String(g[k]) }));
    });
    var list = h('ul', { id: 'corr-alerts' });
    (c.alerts || []).forEach(function (x) {
      list.appendChild(h('li', null, link('#/alert/' + x.id, x.title || ('alert ' + x.id)), ' ', h('span', { class: 'muted', text: fmtTime(x.ns) + ' · ' + (x.host || '') })));
    });
    var ev = h('ul', { id: 'corr-evidence' });
    (c.evidence || []).forEach(function (x) {
      ev.appendChild(h('li', null, h('span', { class: 't', text: fmtTime(x.time) }), ' ', x.rule || '',
        x.summary ? h('div', { class: 'mono muted', text: x.summary }) : null,
        x.file ? h('div', { class: 'muted src', text: x.file + ', record ' + x.record + (x.line ? ', line ' + x.line : '') }) : null));
    });
    return section('Correlation', kv,
      (c.alerts || []).length ? [h('h3', { text: 'Alerts it joins' }), list] : null,
      (c.evidence || []).length ? [h('h3', { text: 'Matches it counted (not reported on their own)' }), ev] : null,
      !(c.alerts || []).length && !(c.evidence || []).length ? h('p', { class: 'muted', text: 'No alerts or matches were kept for it.' }) : null);
  }

  views.attack = function () {
    return src.overview().then(function (o) { return section('ATT&CK matrix: alerts per technique, by tactic', matrix(o)); });
  };

  views.hosts = function () {
    return src.hosts().then(function (r) {
      var t = h('table', { id: 'hosts-table' }, h('tr', null, h('th', { text: 'Host' }), h('th', { text: 'Worst' }), h('th', { text: 'Levels' }), h('th', { class: 'num', text: 'Alerts' }), h('th', { class: 'num', text: 'Incidents' }), h('th', { text: 'First' }), h('th', { text: 'Last' })));
      r.hosts.forEach(function (x) {
        t.appendChild(h('tr', { class: 'click', onclick: function () { location.hash = '#/alerts?' + qs({ host: x.host }); } },
          h('td', null, link('#/alerts?' + qs({ host: x.host }), x.host)), h('td', null, lvl(x.max)), h('td', null, levelBar(x.levels, x.n)),
          h('td', { class: 'n', text: fmtNum(x.n) }), h('td', { class: 'n', text: fmtNum(x.incidents) }),
          h('td', { class: 't', text: fmtTime(x.first) }), h('td', { class: 't', text: fmtTime(x.last) })));
      });
      return section('Hosts', t);
    });
  };

  /* The fleet's hosts from their heartbeats (stoat fleet): when each was
   * last heard, whether it is silent, the rule version it runs, its counts. */
  views.fleet = function () {
    return src.fleet().then(function (r) {
      var t = h('table', { id: 'fleet-table' }, h('tr', null, h('th', { text: 'Host' }), h('th', { text: 'Last seen' }), h('th', { text: 'State' }),
        h('th', { text: 'Rules' }), h('th', { text: 'Role' }), h('th', { class: 'num', text: 'Events/s' }), h('th', { class: 'num', text: 'Lost' }),
        h('th', { class: 'num', text: 'Spooled' }), h('th', { class: 'num', text: 'Dropped' }), h('th', { class: 'num', text: 'Alerts' })));
      r.hosts.forEach(function (x) {
        var b = x.heartbeat || {};
        t.appendChild(h('tr', { class: 'click' + (x.silent ? ' silent' : ''), onclick: function () { location.hash = '#/alerts?' + qs({ host: x.name }); } },
          h('td', null, link('#/alerts?' + qs({ host: x.name }), x.name)), h('td', { class: 't', text: fmtTime(x.last_seen_ns) }),
          h('td', null, x.silent ? h('span', { class: 'tag silent', text: 'silent' }) : h('span', { class: 'tag', text: 'reporting' })),
          h('td', { class: 'mono', text: b.rule_version || '' }), h('td', { text: b.role || b.sensor_mode || '' }),
          h('td', { class: 'n', text: b.events_per_s != null ? fmtNum(Math.round(b.events_per_s)) : '' }),
          h('td', { class: 'n', text: b.lost != null ? fmtNum(b.lost) : '' }), h('td', { class: 'n', text: b.spooled_bytes != null ? fmtNum(b.spooled_bytes) : '' }),
          h('td', { class: 'n', text: b.spool_dropped != null ? fmtNum(b.spool_dropped) : '' }), h('td', { class: 'n', text: fmtNum(x.alerts) })));
      });
      var silent = r.hosts.filter(function (x) { return x.silent; }).length;
      return section('Fleet: ' + fmtNum(r.hosts.length) + ' hosts' + (silent ? ', ' + silent + ' silent' : ''),
        r.hosts.length ? t : h('p', { class: 'muted', text: 'No host has sent a heartbeat to this store (stoat fleet stores them).' }));
    });
  };

  views.rules = function () {
    return src.rules().then(function (r) {
      var t = h('table', { id: 'rules-table' }, h('tr', null, h('th', { text: 'Rule' }), h('th', { text: 'Level' }), h('th', { text: 'Tactics' }), h('th', { class: 'num', text: 'Hosts' }), h('th', { class: 'num', text: 'Alerts' })));
      r.rules.forEach(function (y) {
        t.appendChild(h('tr', { class: 'click', onclick: function () { location.hash = '#/alerts?' + qs({ rule: y.rule.id }); } },
          h('td', null, link('#/alerts?' + qs({ rule: y.rule.id }), y.rule.title)), h('td', null, lvl(y.rule.level)),
          h('td', null, chainEl(y.rule.tactics)), h('td', { class: 'n', text: fmtNum(y.hosts) }), h('td', { class: 'n', text: fmtNum(y.n) })));
      });
      return section('Rules that fired', t);
    });
  };

  /* ------------------------------------------------------------ routing */

  /* body[data-ready] names the view last drawn and body[data-hash] the
   * address it was drawn for: a test (or a script) that changed the address
   * waits for both, since the view of the address before may still be on
   * the page, or be drawn after the change by a render already under way. */
  var seq = 0;
  function render() {
    var hash = location.hash, r = parseHash(), name = r.parts[0] || 'overview';
    if (!views[name]) name = 'overview';
    current = name;
    var mine = ++seq;
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      var v = a.getAttribute('data-view');
      a.className = (v === name || (name === 'incident' && v === 'incidents') || (name === 'alert' && v === 'alerts')) ? 'on' : '';
    });
    var gq = document.getElementById('gq');
    if (name === 'alerts' && document.activeElement !== gq) gq.value = r.q.q || '';
    return views[name](r.parts, r.q).then(function (el) {
      if (mine !== seq) return;
      clear(app).appendChild(el);
      document.body.setAttribute('data-hash', hash);
      document.body.setAttribute('data-ready', name);
    }, function (e) {
      if (mine === seq) { fail(e); document.body.setAttribute('data-hash', hash); document.body.setAttribute('data-ready', 'error'); }
    });
  }
  window.addEventListener('hashchange', render);
  document.getElementById('gsearch').addEventListener('submit', function (e) {
    e.preventDefault();
    location.hash = '#/alerts?' + qs({ q: document.getElementById('gq').value });
  });

  var status = document.getElementById('status');
  if (MODE === 'report') {
    unpack('stoat-data').then(function (t) {
      var D = JSON.parse(t);
      meta = D.meta || {};
      src = reportSource(D);
      status.textContent = 'Report · ' + (meta.generated || '') + (meta.db ? ' · ' + meta.db : '');
      render();
    }).catch(function (e) {
      clear(app).appendChild(h('p', { class: 'err', text: 'This report\'s data could not be read: ' + e.message }));
      document.body.setAttribute('data-ready', 'error');
    });
  } else {
    status.className = 'status live';
    status.textContent = 'Live';
    var last = null;
    var poll = function () {
      live.version().then(function (v) {
        var key = JSON.stringify(v);
        if (last !== null && key !== last) {
          var typing = document.activeElement && /^(TEXTAREA|INPUT|SELECT)$/.test(document.activeElement.tagName);
          if (!typing) render();
          status.textContent = 'Live · updated ' + new Date().toLocaleTimeString();
        }
        last = key;
        status.className = 'status live';
      }, function () { status.className = 'status'; status.textContent = 'Disconnected'; })
        .then(function () { setTimeout(poll, 3000); });
    };
    render().then(poll);
  }
})();

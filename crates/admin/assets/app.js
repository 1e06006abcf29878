// graygate admin page. Plain DOM, no framework, no build step. It runs under a strict CSP
// (script-src 'self', no inline styles): every node is built with createElement/textContent,
// never from HTML strings, so names, uids and messages from the API are always inert text.
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // Pure helpers (no DOM): parsing, formatting and the stats arithmetic.
  // ---------------------------------------------------------------------------------------

  const MATCHERS = ['pin', 'header', 'cookie', 'query', 'app_version', 'percent'];

  function has(obj, key) {
    return obj !== null && typeof obj === 'object' && obj[key] !== undefined && obj[key] !== null;
  }

  /** The matcher of a rule: one of MATCHERS, or '?' for something this page does not know. */
  function ruleKind(rule) {
    for (const k of MATCHERS) if (has(rule, k)) return k;
    return '?';
  }

  /** The decision reason a rule produces (docs/release.md): pin, percent or rule:<name>. */
  function ruleReason(rule, index) {
    if (rule.name) return 'rule:' + rule.name;
    const kind = ruleKind(rule);
    if (kind === 'pin' || kind === 'percent') return kind;
    return 'rule:rule' + index;
  }

  /** Sum and count of the percentage rules that send devices to `version`. */
  function percentOf(site, version) {
    let sum = 0;
    let count = 0;
    for (const rule of (site.release && site.release.rules) || []) {
      if (has(rule, 'percent') && rule.version === version) {
        sum += Number(rule.percent);
        count += 1;
      }
    }
    return { sum: Math.round(sum * 100) / 100, count };
  }

  /** A percentage typed by a person: 0–100 with at most two decimals. */
  function parsePercent(text) {
    const t = String(text).trim();
    if (!/^\d{1,3}(\.\d{1,2})?$/.test(t)) {
      return { ok: false, message: 'enter a number from 0 to 100 with at most two decimals' };
    }
    const value = Number(t);
    if (!(value >= 0 && value <= 100)) {
      return { ok: false, message: t + ' is not a percentage from 0 to 100' };
    }
    return { ok: true, value: Math.round(value * 100) / 100 };
  }

  /** uids pasted as lines, commas or spaces; duplicates dropped, order kept. */
  function parseUids(text) {
    const seen = new Set();
    const out = [];
    for (const u of String(text).split(/[\s,]+/)) {
      if (u && !seen.has(u)) {
        seen.add(u);
        out.push(u);
      }
    }
    return out;
  }

  /** An account id graygate accepts: 1–128 visible ASCII characters. */
  function validUid(uid) {
    return /^[\x21-\x7e]{1,128}$/.test(uid);
  }

  /**
   * The q-quantile of a histogram of NON-cumulative counts, like Prometheus'
   * histogram_quantile: linear interpolation inside the bucket, 0 as the lower edge of the
   * first one. `bounds` are the finite upper bounds; `counts` has one more entry (+Inf) or the
   * same number when the last bound is itself infinite (given as null, a string or a number).
   * Returns null without observations, else {value, overflow} where overflow means the rank
   * fell in the +Inf bucket and value is the highest finite bound.
   */
  function histogramQuantile(q, bounds, counts) {
    const upper = counts.map(function (_, i) {
      const b = i < bounds.length ? Number(bounds[i]) : Infinity;
      return Number.isFinite(b) ? b : Infinity;
    });
    let total = 0;
    for (const c of counts) total += Math.max(0, Number(c) || 0);
    if (total <= 0) return null;
    const rank = q * total;
    let cum = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = Math.max(0, Number(counts[i]) || 0);
      if (c > 0 && cum + c >= rank) {
        if (upper[i] === Infinity) {
          let highest = 0;
          for (let j = i - 1; j >= 0; j--) if (Number.isFinite(upper[j])) { highest = upper[j]; break; }
          return { value: highest, overflow: true };
        }
        const lower = i === 0 ? 0 : upper[i - 1];
        if (i === 0 && upper[0] <= 0) return { value: upper[0], overflow: false };
        return { value: lower + (upper[i] - lower) * ((rank - cum) / c), overflow: false };
      }
      cum += c;
    }
    return null;
  }

  /**
   * Rates between two polls of GET /api/v1/stats. `seconds` is the time between them.
   * Answers {site: {version: {qps, errorRate, p99} | null}}; null means no traffic (or a counter
   * reset) in the interval.
   */
  function statsDelta(prev, cur, seconds) {
    const out = {};
    const sameBounds = JSON.stringify(prev.bucket_bounds) === JSON.stringify(cur.bucket_bounds);
    for (const [site, versions] of Object.entries(cur.sites || {})) {
      out[site] = {};
      for (const [version, now] of Object.entries(versions || {})) {
        const before = (prev.sites && prev.sites[site] && prev.sites[site][version]) ||
          { requests: 0, errors_5xx: 0, buckets: [] };
        const requests = Number(now.requests) - Number(before.requests);
        const errors = Number(now.errors_5xx) - Number(before.errors_5xx);
        if (!sameBounds || !(seconds > 0) || !(requests > 0) || errors < 0) {
          out[site][version] = null;
          continue;
        }
        const buckets = (now.buckets || []).map(function (c, i) {
          return Number(c) - Number((before.buckets || [])[i] || 0);
        });
        const p99 = buckets.some(function (d) { return d < 0; })
          ? null
          : histogramQuantile(0.99, cur.bucket_bounds || [], buckets);
        out[site][version] = { qps: requests / seconds, errorRate: errors / requests, p99 };
      }
    }
    return out;
  }

  function formatQps(qps) {
    if (qps >= 100) return qps.toFixed(0);
    if (qps >= 10) return qps.toFixed(1);
    return qps.toFixed(2);
  }

  function formatSeconds(s) {
    if (s >= 1) return s.toFixed(2) + ' s';
    const ms = s * 1000;
    if (ms >= 100) return ms.toFixed(0) + ' ms';
    if (ms >= 10) return ms.toFixed(1) + ' ms';
    return ms.toFixed(2) + ' ms';
  }

  function formatTime(t) {
    const d = typeof t === 'number' ? new Date(t < 1e12 ? t * 1000 : t) : new Date(String(t));
    if (Number.isNaN(d.getTime())) return String(t);
    return d.toLocaleString();
  }

  function quote(s) {
    return JSON.stringify(String(s));
  }

  /** One line describing what a value test (header/cookie/query) checks. */
  function valueTest(m) {
    const name = m.name !== undefined ? String(m.name) : '?';
    if (has(m, 'present')) return name + (m.present ? ' is present' : ' is absent');
    if (has(m, 'equals')) return name + ' = ' + quote(m.equals);
    if (has(m, 'one_of')) return name + ' in [' + (m.one_of || []).map(quote).join(', ') + ']';
    if (has(m, 'regex')) return name + ' ~ /' + m.regex + '/';
    return name;
  }

  /** The details column of the rules table. `start` is where this rule's bucket slice begins. */
  function ruleDetails(rule, kind, start) {
    switch (kind) {
      case 'pin': {
        const uids = rule.pin.uids || [];
        const shown = uids.slice(0, 8).join(', ') + (uids.length > 8 ? ', …' : '');
        let text = uids.length + ' uid' + (uids.length === 1 ? '' : 's') + (uids.length ? ': ' + shown : '');
        if (rule.pin.uids_file) text += ' + uids from file ' + rule.pin.uids_file;
        return text;
      }
      case 'header':
        return 'header ' + valueTest(rule.header);
      case 'cookie':
        return 'cookie ' + valueTest(rule.cookie);
      case 'query':
        return 'query parameter ' + valueTest(rule.query);
      case 'app_version': {
        const a = rule.app_version;
        let source = '?';
        if (has(a, 'header')) source = 'header ' + a.header;
        else if (has(a, 'user_agent')) source = 'User-Agent product ' + a.user_agent;
        else if (has(a, 'regex')) source = 'regex /' + a.regex + '/';
        const ops = [['gte', '≥'], ['gt', '>'], ['lte', '≤'], ['lt', '<'], ['eq', '=']];
        const bounds = ops.filter(function (o) { return has(a, o[0]); })
          .map(function (o) { return o[1] + ' ' + a[o[0]]; });
        return 'app version from ' + source + (bounds.length ? ', ' + bounds.join(', ') : '');
      }
      case 'percent': {
        const p = Number(rule.percent);
        const n = Math.round(p * 100);
        const slice = n > 0 ? 'buckets ' + start + '–' + (start + n - 1) : 'no buckets';
        return p + '% of devices (' + slice + ')';
      }
      default: {
        const rest = Object.assign({}, rule);
        delete rest.name;
        delete rest.version;
        return JSON.stringify(rest);
      }
    }
  }

  const pure = {
    ruleKind, ruleReason, percentOf, parsePercent, parseUids, validUid,
    histogramQuantile, statsDelta, formatQps, formatSeconds, ruleDetails,
  };
  if (typeof document === 'undefined') {
    // Loaded outside a browser (unit checks from Node): hand the helpers over, nothing else.
    if (typeof module !== 'undefined') module.exports = pure;
    return;
  }

  // ---------------------------------------------------------------------------------------
  // API access
  // ---------------------------------------------------------------------------------------

  const TOKEN_KEY = 'graygate.admin.token';
  const STATS_EVERY_MS = 3000;
  const PIN_DISPLAY_LIMIT = 500;
  const REVISIONS_SHOWN = 50;

  function getToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return state.tokenFallback;
    }
  }

  function setToken(token) {
    state.tokenFallback = token;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // Storage disabled: keep it for this page only.
    }
  }

  class ApiError extends Error {
    constructor(status, message, errors) {
      super(message);
      this.status = status;
      this.errors = errors || [];
    }
  }

  function seg(s) {
    return encodeURIComponent(s);
  }

  function sitePath(site) {
    return '/api/v1/sites/' + seg(site);
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin', redirect: 'error' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers['X-Graygate-Request'] = '1';
      headers['Content-Type'] = 'application/json';
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'the admin API did not answer (' + (e && e.message ? e.message : e) + ')');
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!response.ok) {
      const err = json && json.error ? json.error : null;
      let message = err && err.message ? String(err.message) : (text.trim() || response.statusText || 'request failed');
      if (response.status === 401 && !token) message += ' (enter the admin token above)';
      const errors = err && Array.isArray(err.errors) ? err.errors : [];
      throw new ApiError(response.status, message, errors);
    }
    if (json === null) throw new ApiError(response.status, 'the admin API answered something that is not JSON');
    return json;
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------

  /** h('div', {class, testid, onclick, ...attributes}, ...children): text children stay text. */
  function h(tag, props) {
    const el = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const v = props[key];
        if (v === undefined || v === null || v === false) continue;
        if (key === 'class') el.className = v;
        else if (key === 'testid') el.setAttribute('data-testid', v);
        else if (key === 'text') el.textContent = String(v);
        else if (key === 'value') el.value = String(v);
        else if (key.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(key.slice(2), v);
        else el.setAttribute(key, v === true ? '' : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) {
      for (const c of child) append(el, c);
    } else if (typeof child === 'string' || typeof child === 'number') {
      el.appendChild(document.createTextNode(String(child)));
    } else {
      el.appendChild(child);
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function $(id) {
    return document.getElementById(id);
  }

  // ---------------------------------------------------------------------------------------
  // State and messages
  // ---------------------------------------------------------------------------------------

  const state = {
    tokenFallback: '',
    sites: [],
    pins: {},          // site -> {version: [uid]} or {__error}
    revisions: null,   // {current, revisions}
    revision: null,
    loadSeq: 0,
    loadedOk: false,
    busy: false,
    showAllRevisions: false,
    search: {},        // site -> pin search text
    bulkOpen: {},      // site/version -> bulk textarea open
    stats: { prev: null, view: {}, cells: new Map(), timer: null, generation: 0 },
  };

  function showError(err, context) {
    const box = $('error');
    clear(box);
    const status = err && err.status ? ' (' + err.status + ')' : '';
    const message = (err && err.message) ? err.message : String(err);
    box.appendChild(h('div', { class: 'error-head' },
      h('strong', { testid: 'error-message' }, (context ? context + ': ' : '') + message + status),
      h('button', { type: 'button', class: 'link', testid: 'error-dismiss', onclick: clearError, 'aria-label': 'Dismiss' }, 'Dismiss')));
    if (err && err.errors && err.errors.length) {
      const list = h('ul', { testid: 'error-list' });
      for (const e of err.errors) {
        list.appendChild(h('li', null, h('code', null, String(e.path || '')), ': ' + String(e.message || '')));
      }
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function clearError() {
    const box = $('error');
    clear(box);
    box.hidden = true;
  }

  function notice(text) {
    $('notice').textContent = text;
  }

  function setPageState(s) {
    document.body.setAttribute('data-state', s);
  }

  // ---------------------------------------------------------------------------------------
  // Loading
  // ---------------------------------------------------------------------------------------

  async function loadAll(keepError) {
    const seq = ++state.loadSeq;
    setPageState('loading');
    try {
      const [sitesResp, revisions] = await Promise.all([
        api('GET', '/api/v1/sites'),
        api('GET', '/api/v1/revisions'),
      ]);
      const sites = Array.isArray(sitesResp.sites) ? sitesResp.sites : [];
      const pinList = await Promise.all(sites.map(function (s) {
        return api('GET', sitePath(s.name) + '/release/pins').then(
          function (r) { return r.pins || {}; },
          function (e) { return { __error: e }; });
      }));
      if (seq !== state.loadSeq) return;
      state.sites = sites;
      state.revision = sitesResp.revision !== undefined ? sitesResp.revision : revisions.current;
      state.revisions = revisions;
      state.pins = {};
      sites.forEach(function (s, i) { state.pins[s.name] = pinList[i]; });
      const wasLoaded = state.loadedOk;
      state.loadedOk = true;
      render();
      $('loaded-at').textContent = 'loaded ' + new Date().toLocaleTimeString();
      setPageState('ready');
      if (!wasLoaded) restartStats();
    } catch (e) {
      if (seq !== state.loadSeq) return;
      state.loadedOk = false;
      if (!(keepError && !$('error').hidden)) showError(e, 'Loading failed');
      setPageState('error');
    }
  }

  /** Runs one change (after the caller confirmed it), reports it, then reloads everything. */
  async function change(what, method, path, body, button) {
    if (state.busy) return;
    state.busy = true;
    clearError();
    let failed = false;
    if (button) button.disabled = true;
    setPageState('loading');
    try {
      const r = await api(method, path, body);
      notice(what + ' — now serving revision ' + r.revision + '.');
    } catch (e) {
      notice('');
      failed = true;
      showError(e, what + ' failed');
    } finally {
      state.busy = false;
      if (button) button.disabled = false;
    }
    await loadAll(failed);
  }

  // ---------------------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------------------

  function render() {
    $('current-revision').textContent = 'revision ' + (state.revision === null ? '–' : state.revision);
    const root = $('sites');
    clear(root);
    state.stats.cells = new Map();
    if (!state.sites.length) {
      root.appendChild(h('p', { class: 'muted card' }, 'No sites are configured.'));
    }
    for (const site of state.sites) root.appendChild(renderSite(site));
    renderRevisions();
    paintStats();
  }

  function renderSite(site) {
    const name = site.name;
    const release = site.release || {};
    const hosts = (site.hosts || []).join(', ');
    const rollbackZero = h('button', {
      type: 'button', class: 'danger big', testid: 'rollback-zero-' + name,
      title: 'Set every percentage rule of ' + name + ' to 0% (pins and other rules stay)',
    }, 'Roll back to 0%');
    rollbackZero.addEventListener('click', function () {
      const shares = versionNames(site).filter(function (v) { return percentOf(site, v).count; })
        .map(function (v) { return v + ' ' + percentOf(site, v).sum + '%'; }).join(', ');
      if (!confirm('Roll back site "' + name + '": every percentage rule to 0%' +
          (shares ? ' (now ' + shares + ')' : '') + '?\nPins and other rules stay.')) return;
      change(name + ': every percentage to 0%', 'POST', sitePath(name) + '/release/rollback', undefined, rollbackZero);
    });

    return h('section', { class: 'card site', testid: 'site-' + name },
      h('div', { class: 'site-head' },
        h('div', null,
          h('h2', null, 'Site ', h('span', { class: 'site-name' }, name)),
          h('p', { class: 'muted' },
            'hosts ', h('code', null, hosts || '–'),
            ' · path ', h('code', null, site.path_prefix || '/'),
            ' · default ', h('code', null, release.default || '–'),
            ' · salt ', h('code', null, release.salt || name))),
        rollbackZero),
      h('h3', null, 'Versions'),
      renderVersions(site),
      h('h3', null, 'Pinned users'),
      renderPins(site),
      h('h3', null, 'Rules ', h('span', { class: 'muted small' }, '(in order; the first match wins, else the default)')),
      renderRules(site));
  }

  function versionNames(site) {
    return Object.keys((site.release && site.release.versions) || {});
  }

  function renderVersions(site) {
    const name = site.name;
    const release = site.release || {};
    const tbody = h('tbody');
    for (const version of versionNames(site)) {
      const v = release.versions[version] || {};
      const isDefault = version === release.default;
      const share = percentOf(site, version);

      let serves;
      if (v.upstream) {
        serves = h('div', null, h('span', { class: 'muted' }, 'upstream '),
          (v.upstream.servers || []).map(function (s, i) {
            return [i ? ' ' : '', h('code', { class: 'server' }, s)];
          }),
          v.upstream.name ? h('span', { class: 'muted small' }, ' (' + v.upstream.name + ')') : null);
      } else if (v.root !== undefined && v.root !== null) {
        serves = h('div', null, h('span', { class: 'muted' }, 'root '), h('code', null, String(v.root)));
      } else {
        serves = h('span', { class: 'muted' }, '–');
      }

      const current = h('span', { class: 'share', testid: 'percent-current-' + name + '-' + version },
        share.count ? share.sum + '%' : (isDefault ? '—' : '0%'));
      let control = null;
      if (!isDefault) {
        const input = h('input', {
          type: 'number', min: '0', max: '100', step: '0.01', inputmode: 'decimal',
          class: 'percent-input', value: String(share.sum),
          testid: 'percent-input-' + name + '-' + version,
          'aria-label': 'Percentage of devices for ' + version,
        });
        const apply = h('button', { type: 'button', class: 'primary', testid: 'percent-apply-' + name + '-' + version }, 'Apply');
        const submit = function () {
          const parsed = parsePercent(input.value);
          if (!parsed.ok) {
            showError({ message: version + ': ' + parsed.message }, 'Percentage not applied');
            return;
          }
          if (!confirm('Set ' + version + ' of site "' + name + '" to ' + parsed.value + '% of devices?\n' +
              '(now ' + share.sum + '%)')) return;
          change(name + ': ' + version + ' to ' + parsed.value + '%', 'PUT',
            sitePath(name) + '/release/versions/' + seg(version) + '/percent', { percent: parsed.value }, apply);
        };
        apply.addEventListener('click', submit);
        input.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') submit(); });
        control = h('div', { class: 'percent-control' }, input, h('span', { class: 'muted' }, '%'), apply);
        if (share.count > 1) {
          control.appendChild(h('div', { class: 'muted small' }, share.count + ' percentage rules: edit the rules instead'));
          input.disabled = true;
          apply.disabled = true;
        }
      } else {
        control = h('span', { class: 'muted small' }, 'serves every request no rule matches');
      }

      tbody.appendChild(h('tr', { testid: 'version-' + name + '-' + version, class: isDefault ? 'is-default' : null },
        h('td', null, h('code', { class: 'version-name' }, version),
          isDefault ? h('span', { class: 'badge', testid: 'default-' + name + '-' + version }, 'default') : null),
        h('td', null, serves),
        h('td', { class: 'num' }, current),
        h('td', null, control),
        h('td', null, renderStatsCell(name, version))));
    }
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'versions', testid: 'versions-' + name },
        h('thead', null, h('tr', null,
          h('th', null, 'Version'), h('th', null, 'Serves from'), h('th', { class: 'num' }, 'Share'),
          h('th', null, 'Set share of devices'), h('th', null, 'Live (3 s)'))),
        tbody));
  }

  function renderStatsCell(site, version) {
    const qps = h('span', { class: 'stat-value', testid: 'stats-qps-' + site + '-' + version }, '–');
    const err = h('span', { class: 'stat-value', testid: 'stats-5xx-' + site + '-' + version }, '–');
    const p99 = h('span', { class: 'stat-value', testid: 'stats-p99-' + site + '-' + version }, '–');
    state.stats.cells.set(site + '\u0000' + version, { qps, err, p99 });
    return h('div', { class: 'stats', testid: 'stats-' + site + '-' + version },
      h('span', { class: 'stat' }, h('span', { class: 'stat-label' }, 'QPS'), qps),
      h('span', { class: 'stat' }, h('span', { class: 'stat-label' }, '5xx'), err),
      h('span', { class: 'stat' }, h('span', { class: 'stat-label' }, 'P99'), p99));
  }

  function renderPins(site) {
    const name = site.name;
    const pins = state.pins[name] || {};
    if (pins.__error) {
      return h('p', { class: 'error-inline', testid: 'pins-error-' + name },
        'Pins could not be loaded: ' + pins.__error.message);
    }
    const versions = versionNames(site);
    for (const v of Object.keys(pins)) if (versions.indexOf(v) < 0) versions.push(v);
    const files = {};
    for (const rule of (site.release && site.release.rules) || []) {
      if (has(rule, 'pin') && rule.pin.uids_file) (files[rule.version] = files[rule.version] || []).push(rule.pin.uids_file);
    }

    const search = h('input', {
      type: 'search', class: 'pin-search', testid: 'pin-search-' + name, placeholder: 'Find a uid…',
      value: state.search[name] || '', 'aria-label': 'Filter pinned uids of ' + name,
    });
    const panels = h('div', { class: 'pin-panels' });
    const lists = [];

    for (const version of versions) {
      const uids = pins[version] || [];
      const list = h('ul', { class: 'pin-list', testid: 'pin-list-' + name + '-' + version });
      const count = h('span', { class: 'muted small', testid: 'pin-count-' + name + '-' + version });
      lists.push({ version, uids, list, count });

      const input = h('input', {
        type: 'text', class: 'pin-input', placeholder: 'uid', autocomplete: 'off', spellcheck: 'false',
        testid: 'pin-input-' + name + '-' + version, 'aria-label': 'uid to pin to ' + version,
      });
      const add = h('button', { type: 'button', testid: 'pin-add-' + name + '-' + version }, 'Pin');
      const addOne = function () {
        const uids = parseUids(input.value);
        if (uids.length !== 1) {
          showError({ message: 'enter one uid (use bulk add for several)' }, 'Not pinned');
          return;
        }
        pinUids(name, version, uids, add);
      };
      add.addEventListener('click', addOne);
      input.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') addOne(); });

      const bulkKey = name + '\u0000' + version;
      const bulk = h('textarea', {
        rows: '4', class: 'pin-bulk', testid: 'pin-bulk-' + name + '-' + version,
        placeholder: 'Paste uids: one per line, or separated by commas or spaces',
        'aria-label': 'uids to pin to ' + version,
      });
      const bulkAdd = h('button', { type: 'button', testid: 'pin-bulk-add-' + name + '-' + version }, 'Pin all');
      bulkAdd.addEventListener('click', function () {
        const uids = parseUids(bulk.value);
        if (!uids.length) {
          showError({ message: 'paste at least one uid' }, 'Not pinned');
          return;
        }
        if (!confirm('Pin ' + uids.length + ' uid(s) to ' + version + ' of site "' + name + '"?\n' +
            'uids pinned to another version move here.')) return;
        pinUids(name, version, uids, bulkAdd);
      });
      const details = h('details', { class: 'bulk', testid: 'pin-bulk-details-' + name + '-' + version },
        h('summary', null, 'Bulk add'), bulk, h('div', { class: 'row' }, bulkAdd));
      details.open = !!state.bulkOpen[bulkKey];
      details.addEventListener('toggle', function () { state.bulkOpen[bulkKey] = details.open; });

      panels.appendChild(h('div', { class: 'pin-panel', testid: 'pins-' + name + '-' + version },
        h('h4', null, h('code', null, version), ' ', count),
        h('div', { class: 'row' }, input, add),
        details,
        list,
        files[version] ? h('p', { class: 'muted small' },
          'Also pinned: the uids in ' + files[version].join(', ') + ' (files are edited on the server).') : null));
    }

    const paint = function () {
      const q = search.value.trim().toLowerCase();
      state.search[name] = search.value;
      for (const entry of lists) {
        clear(entry.list);
        const matches = q ? entry.uids.filter(function (u) { return u.toLowerCase().indexOf(q) >= 0; }) : entry.uids;
        entry.count.textContent = q
          ? '(' + matches.length + ' of ' + entry.uids.length + ')'
          : '(' + entry.uids.length + ')';
        for (const uid of matches.slice(0, PIN_DISPLAY_LIMIT)) {
          const remove = h('button', {
            type: 'button', class: 'link danger-text', testid: 'pin-remove-' + name + '-' + entry.version + '-' + uid,
            title: 'Unpin ' + uid, 'aria-label': 'Unpin ' + uid,
          }, 'remove');
          remove.addEventListener('click', function () {
            if (!confirm('Unpin uid ' + uid + ' from site "' + name + '"?')) return;
            change(name + ': unpin ' + uid, 'DELETE', sitePath(name) + '/release/pins', { uids: [uid] }, remove);
          });
          entry.list.appendChild(h('li', { testid: 'pin-' + name + '-' + entry.version + '-' + uid },
            h('code', null, uid), remove));
        }
        if (matches.length > PIN_DISPLAY_LIMIT) {
          entry.list.appendChild(h('li', { class: 'muted' },
            (matches.length - PIN_DISPLAY_LIMIT) + ' more — narrow the search'));
        }
        if (!matches.length) {
          entry.list.appendChild(h('li', { class: 'muted empty' }, q ? 'no match' : 'nobody pinned'));
        }
      }
    };
    search.addEventListener('input', paint);
    paint();

    return h('div', { class: 'pins' }, h('div', { class: 'row' }, search), panels);
  }

  function pinUids(site, version, uids, button) {
    const bad = uids.filter(function (u) { return !validUid(u); });
    if (bad.length) {
      showError({
        message: 'a uid is 1–128 visible ASCII characters',
        errors: bad.slice(0, 20).map(function (u) { return { path: 'uid', message: JSON.stringify(u) }; }),
      }, 'Not pinned');
      return;
    }
    change(site + ': pin ' + (uids.length === 1 ? 'uid ' + uids[0] : uids.length + ' uids') + ' to ' + version,
      'POST', sitePath(site) + '/release/pins', { version, uids }, button);
  }

  function renderRules(site) {
    const rules = (site.release && site.release.rules) || [];
    const tbody = h('tbody');
    let start = 0;
    rules.forEach(function (rule, i) {
      const kind = ruleKind(rule);
      const details = ruleDetails(rule, kind, start);
      if (kind === 'percent') start += Math.round(Number(rule.percent) * 100);
      tbody.appendChild(h('tr', { testid: 'rule-' + site.name + '-' + i },
        h('td', { class: 'num muted' }, String(i)),
        h('td', null, rule.name ? rule.name : h('span', { class: 'muted' }, '—')),
        h('td', null, kind),
        h('td', null, h('code', null, String(rule.version))),
        h('td', null, h('code', { class: 'muted' }, ruleReason(rule, i))),
        h('td', { class: 'details' }, details)));
    });
    if (!rules.length) {
      tbody.appendChild(h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No rules: everyone gets the default version.')));
    }
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'rules', testid: 'rules-' + site.name },
        h('thead', null, h('tr', null,
          h('th', { class: 'num' }, '#'), h('th', null, 'Name'), h('th', null, 'Kind'), h('th', null, 'Version'),
          h('th', null, 'Reason'), h('th', null, 'Details'))),
        tbody));
  }

  function renderRevisions() {
    const box = $('revisions');
    clear(box);
    const data = state.revisions || { revisions: [] };
    const all = Array.isArray(data.revisions) ? data.revisions : [];
    const current = data.current !== undefined ? data.current : state.revision;
    const shown = state.showAllRevisions ? all : all.slice(0, REVISIONS_SHOWN);
    const tbody = h('tbody');
    for (const rev of shown) {
      const n = rev.revision;
      let action;
      if (n === current) {
        action = h('span', { class: 'badge current', testid: 'revision-current' }, 'current');
      } else if (typeof n === 'number' && typeof current === 'number' && n < current) {
        action = h('button', { type: 'button', class: 'small-button', testid: 'revision-rollback-' + n }, 'Roll back to this revision');
        action.addEventListener('click', function () {
          if (!confirm('Roll back every site to revision ' + n + '?\n' + (rev.change ? '(' + rev.change + ')\n' : '') +
              'This makes a new revision with the sites of revision ' + n + ', pins included.')) return;
          change('Roll back to revision ' + n, 'POST', '/api/v1/revisions/' + seg(String(n)) + '/rollback', undefined, action);
        });
      }
      const change_ = typeof rev.change === 'string' ? rev.change : JSON.stringify(rev.change);
      tbody.appendChild(h('tr', { testid: 'revision-' + n, class: n === current ? 'is-current' : null },
        h('td', { class: 'num' }, String(n)),
        h('td', { title: String(rev.time) }, formatTime(rev.time)),
        h('td', null, String(rev.actor === undefined ? '' : rev.actor)),
        h('td', { class: 'details' }, change_ || ''),
        h('td', null, action)));
    }
    if (!all.length) {
      tbody.appendChild(h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'No revisions yet.')));
    }
    box.appendChild(h('div', { class: 'table-wrap scroll' },
      h('table', { class: 'revisions', testid: 'revisions' },
        h('thead', null, h('tr', null,
          h('th', { class: 'num' }, 'Revision'), h('th', null, 'Time'), h('th', null, 'Actor'),
          h('th', null, 'Change'), h('th', null, ''))),
        tbody)));
    if (all.length > REVISIONS_SHOWN) {
      const more = h('button', { type: 'button', class: 'link', testid: 'revisions-toggle' },
        state.showAllRevisions ? 'Show the newest ' + REVISIONS_SHOWN : 'Show all ' + all.length + ' revisions');
      more.addEventListener('click', function () {
        state.showAllRevisions = !state.showAllRevisions;
        renderRevisions();
      });
      box.appendChild(more);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Live stats: poll every 3 s, rates from the difference of the last two polls
  // ---------------------------------------------------------------------------------------

  function restartStats() {
    const s = state.stats;
    s.generation += 1;
    s.prev = null;
    s.view = {};
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    paintStats();
    pollStats(s.generation);
  }

  async function pollStats(generation) {
    const s = state.stats;
    if (generation !== s.generation) return;
    if (state.loadedOk) {
      try {
        const data = await api('GET', '/api/v1/stats');
        const at = performance.now();
        if (generation !== s.generation) return;
        if (s.prev) {
          s.view = statsDelta(s.prev.data, data, (at - s.prev.at) / 1000);
          $('stats-status').textContent = 'live stats: last ' + ((at - s.prev.at) / 1000).toFixed(1) +
            ' s, updated ' + new Date().toLocaleTimeString();
        } else {
          $('stats-status').textContent = 'live stats: first sample taken, rates after the next one';
        }
        s.prev = { data, at };
        paintStats();
      } catch (e) {
        if (generation !== s.generation) return;
        $('stats-status').textContent = 'live stats unavailable: ' + e.message;
      }
    }
    if (generation === s.generation) s.timer = setTimeout(function () { pollStats(generation); }, STATS_EVERY_MS);
  }

  function paintStats() {
    for (const [key, cell] of state.stats.cells) {
      const parts = key.split('\u0000');
      const v = state.stats.view[parts[0]] && state.stats.view[parts[0]][parts[1]];
      if (!v) {
        cell.qps.textContent = '–';
        cell.err.textContent = '–';
        cell.p99.textContent = '–';
        cell.err.classList.remove('bad');
        continue;
      }
      cell.qps.textContent = formatQps(v.qps);
      cell.err.textContent = (v.errorRate * 100).toFixed(2) + '%';
      cell.err.classList.toggle('bad', v.errorRate >= 0.01);
      cell.p99.textContent = v.p99 ? (v.p99.overflow ? '> ' : '') + formatSeconds(v.p99.value) : '–';
    }
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

  function start() {
    const tokenInput = $('token');
    tokenInput.value = getToken();
    const save = function () {
      setToken(tokenInput.value.trim());
      clearError();
      notice('');
      state.loadedOk = false;
      loadAll();
    };
    $('token-save').addEventListener('click', save);
    tokenInput.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') save(); });
    $('token-clear').addEventListener('click', function () {
      tokenInput.value = '';
      setToken('');
      notice('Token forgotten.');
    });
    $('reload').addEventListener('click', function () {
      clearError();
      loadAll();
    });
    loadAll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

// The pipeline graph: topics and stages in layers from the inputs, each
// stage coloured by its queue and how busy it is, its rates on the edges.
// Plain SVG; window.sluiceGraph.draw is called on every sample.
'use strict';
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const STAGE_W = 170, STAGE_H = 46, TOPIC_W = 130, TOPIC_H = 28;
  const COL = 230, ROW = 70, PAD = 20;
  const FILLS = ['#dff0e2', '#fff3dc', '#fddcb5', '#f8c0b8'];

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Layers: a topic nothing emits is layer 0; a stage is one past its
  // latest input; a topic one past its latest producer. Cycles stop after
  // as many rounds as there are nodes.
  // The topics worth drawing: those a stage takes or emits to, the feed's
  // and the sources' (a declared topic nothing uses carries nothing).
  function usedTopics(topo) {
    const used = new Set([topo.feed_topic, ...(topo.sources || []).map((s) => s.topic)]);
    for (const s of topo.stages) for (const t of [...s.subscribe, ...s.emits]) used.add(t);
    return topo.topics.filter((t) => used.has(t));
  }

  function layout(topo) {
    const topics = usedTopics(topo);
    const layer = new Map();
    const producers = new Map();
    for (const t of topics) { layer.set('t:' + t, 0); producers.set(t, []); }
    for (const s of topo.stages) for (const t of s.emits) {
      if (!producers.has(t)) producers.set(t, []);
      producers.get(t).push(s.name);
    }
    const rounds = topics.length + topo.stages.length + 1;
    for (let i = 0; i < rounds; i++) {
      let changed = false;
      for (const s of topo.stages) {
        let l = 1;
        for (const t of s.subscribe) l = Math.max(l, (layer.get('t:' + t) || 0) + 1);
        if (layer.get('s:' + s.name) !== l) { layer.set('s:' + s.name, l); changed = true; }
      }
      for (const [t, ps] of producers) {
        let l = 0;
        for (const p of ps) l = Math.max(l, (layer.get('s:' + p) || 0) + 1);
        if (layer.get('t:' + t) !== l) { layer.set('t:' + t, l); changed = true; }
      }
      if (!changed) break;
    }
    const columns = new Map();
    const pos = new Map();
    const place = (id) => {
      const l = layer.get(id) || 0;
      const row = columns.get(l) || 0;
      columns.set(l, row + 1);
      pos.set(id, { x: PAD + l * COL, y: PAD + row * ROW });
    };
    for (const t of topics) place('t:' + t);
    for (const s of topo.stages) place('s:' + s.name);
    let width = 0, height = 0;
    for (const p of pos.values()) { width = Math.max(width, p.x + STAGE_W + PAD); height = Math.max(height, p.y + STAGE_H + PAD); }
    return { pos, width, height, topics };
  }

  function heat(stage, spec) {
    const queued = stage.queued_normal + stage.queued_urgent;
    const q = queued === 0 ? 0 : queued < 1000 ? 1 : queued < 100000 ? 2 : 3;
    const busy = spec.max_in_flight > 0 ? stage.in_flight / spec.max_in_flight : 0;
    const b = busy < 0.25 ? 0 : busy < 0.5 ? 1 : busy < 0.9 ? 2 : 3;
    return Math.max(q, b);
  }

  function fmtRate(r) { return r >= 1000 ? (r / 1000).toFixed(1) + 'k/s' : r.toFixed(r < 10 ? 1 : 0) + '/s'; }

  // `stats`: stage name -> its entry of the console's `stages`; `rates`:
  // stage name -> {in, out} events/s.
  function draw(container, topo, stats, rates, onStage) {
    const { pos, width, height, topics } = layout(topo);
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height), role: 'img', 'aria-label': 'pipeline graph' });
    const defs = el('defs');
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
    marker.appendChild(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a97a8' }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    const edge = (from, fw, fh, to, th, label) => {
      const x1 = from.x + fw, y1 = from.y + fh / 2, x2 = to.x, y2 = to.y + th / 2;
      const mx = (x1 + x2) / 2;
      svg.appendChild(el('path', { class: 'edge', d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}` }));
      if (label) svg.appendChild(el('text', { class: 'edge-label', x: String(mx), y: String((y1 + y2) / 2 - 4), 'text-anchor': 'middle' }, label));
    };
    for (const s of topo.stages) {
      const sp = pos.get('s:' + s.name);
      const r = rates[s.name] || { in: 0, out: 0 };
      for (const t of s.subscribe) edge(pos.get('t:' + t), TOPIC_W, TOPIC_H, sp, STAGE_H, fmtRate(r.in));
      for (const t of s.emits) if (pos.has('t:' + t)) edge(sp, STAGE_W, STAGE_H, pos.get('t:' + t), TOPIC_H, fmtRate(r.out));
    }
    for (const t of topics) {
      const p = pos.get('t:' + t);
      const g = el('g', { class: 'topic', 'data-topic': t });
      g.appendChild(el('rect', { x: String(p.x), y: String(p.y), width: String(TOPIC_W), height: String(TOPIC_H), rx: '14' }));
      const input = t === topo.feed_topic ? ' (feed)' : '';
      g.appendChild(el('text', { x: String(p.x + TOPIC_W / 2), y: String(p.y + 18), 'text-anchor': 'middle' }, t + input));
      svg.appendChild(g);
    }
    for (const s of topo.stages) {
      const p = pos.get('s:' + s.name);
      const st = stats[s.name];
      const level = st ? heat(st, s) : 0;
      const g = el('g', { class: 'stage', 'data-stage': s.name, 'data-heat': String(level) });
      const rect = el('rect', { x: String(p.x), y: String(p.y), width: String(STAGE_W), height: String(STAGE_H), rx: '4', fill: FILLS[level] });
      if (st && st.paused) rect.setAttribute('stroke-dasharray', '5 3');
      g.appendChild(rect);
      g.appendChild(el('text', { x: String(p.x + 8), y: String(p.y + 17), 'font-weight': '600' }, s.name + (st && st.paused ? ' (paused)' : '')));
      const q = st ? st.queued_urgent + st.queued_normal : 0;
      g.appendChild(el('text', { x: String(p.x + 8), y: String(p.y + 35) },
        st ? `queued ${q} · in flight ${st.in_flight}` : ''));
      const title = el('title', {}, `${s.name} (${s.behaviour}): click for the stage`);
      g.appendChild(title);
      g.addEventListener('click', () => onStage(s.name));
      svg.appendChild(g);
    }
    container.replaceChildren(svg);
  }

  window.sluiceGraph = { draw, layout };
})();

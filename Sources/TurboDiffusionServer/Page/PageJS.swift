extension WebPage {
    static let js = #"""
'use strict';
const API = '/api/v1';
const $ = (id) => document.getElementById(id);
const I18N = {
  en: {
    subtitle: 'video generation', restart: 'Restart', model: 'Model', mode: 'Mode', t2v: 'Text → video', i2v: 'Image → video',
    prompt: 'Prompt', promptHint: 'Describe the video…', imageHint: 'Choose or drop a PNG/JPEG image', boundary: 'Boundary',
    adaptive: 'Adaptive resolution', resolution: 'Resolution', aspect: 'Aspect ratio', steps: 'Steps', seed: 'Seed', random: 'Random',
    frames: 'Frames', advanced: 'Advanced', attention: 'Attention', topk: 'SLA top-k', sigma: 'sigma_max', size: 'Custom size',
    samples: 'Samples', quant: 'W8A8 (quant_linear)', ode: 'ODE sampling', generate: 'Generate', idle: 'Idle',
    placeholder: 'Your video appears here', cancel: 'Cancel', queue: 'Queue', gallery: 'Gallery', refresh: 'Refresh',
    galleryEmpty: 'No videos yet.', logs: 'Server log', notInstalled: 'not installed', missing: 'Not installed. Download:',
    play: 'Play', download: 'Download', delete: 'Delete', confirmDelete: 'Delete {name}? This cannot be undone.',
    confirmRestart: 'Restart: stop the running job and unload every model (frees GPU memory)?', restarted: 'Models unloaded',
    ready: 'ready', busy: 'running {r} · queued {q}', queued: 'Queued', needImage: 'Choose an image for image-to-video.',
    uploading: 'Uploading…', uploaded: '{w}×{h} image', eta: 'ETA {s}', done: 'Done in {s}', failed: 'Failed', cancelled: 'Cancelled',
    noPrompt: 'Type a prompt.', offline: 'server unreachable', auto: 'auto',
    stages: {}, statuses: {}
  },
  zh: {
    subtitle: '视频生成', restart: '重启', model: '模型', mode: '模式', t2v: '文生视频', i2v: '图生视频',
    prompt: '提示词', promptHint: '描述你想要的视频…', imageHint: '选择或拖入 PNG/JPEG 图片', boundary: '专家切换边界',
    adaptive: '自适应分辨率', resolution: '分辨率', aspect: '宽高比', steps: '步数', seed: '随机种子', random: '随机',
    frames: '帧数', advanced: '高级选项', attention: '注意力', topk: 'SLA top-k', sigma: 'sigma_max', size: '自定义尺寸',
    samples: '样本数', quant: 'W8A8 量化 (quant_linear)', ode: 'ODE 采样', generate: '生成', idle: '空闲',
    placeholder: '生成的视频会显示在这里', cancel: '取消', queue: '队列', gallery: '作品库', refresh: '刷新',
    galleryEmpty: '还没有视频。', logs: '服务器日志', notInstalled: '未安装', missing: '未安装。请下载：',
    play: '播放', download: '下载', delete: '删除', confirmDelete: '删除 {name}？此操作无法撤销。',
    confirmRestart: '重启：停止当前任务并卸载所有模型（释放显存）？', restarted: '模型已卸载',
    ready: '就绪', busy: '运行 {r} · 排队 {q}', queued: '排队中', needImage: '图生视频需要先选择一张图片。',
    uploading: '上传中…', uploaded: '{w}×{h} 图片', eta: '预计剩余 {s}', done: '完成，用时 {s}', failed: '失败', cancelled: '已取消',
    noPrompt: '请输入提示词。', offline: '无法连接服务器', auto: '自动',
    stages: { 'queued': '排队中', 'load text encoder': '加载文本编码器', 'encode text': '编码提示词', 'encode image': '编码图片',
      'load DiT': '加载 DiT', 'denoise': '去噪', 'load VAE': '加载 VAE', 'decode': '解码', 'write video': '写入视频', 'done': '完成' },
    statuses: { queued: '排队', running: '运行中', succeeded: '成功', failed: '失败', cancelled: '已取消' }
  }
};
let lang = localStorage.getItem('td-lang') || ((navigator.language || '').startsWith('zh') ? 'zh' : 'en');
let models = [], defaults = {}, upload = null, current = null, source = null, pollTimer = null, shown = null;

function t(key, vars) {
  let s = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', v);
  return s;
}
function statusName(s) { return (I18N[lang].statuses && I18N[lang].statuses[s]) || s; }
function stageName(s) { return (I18N[lang].stages && I18N[lang].stages[s]) || s; }
function duration(s) { return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + String(Math.round(s % 60)).padStart(2, '0') + ' s'; }
function task() { return document.querySelector('input[name=task]:checked').value; }

function applyLang() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll('[data-i18n-placeholder]').forEach((e) => { e.placeholder = t(e.dataset.i18nPlaceholder); });
  $('lang').textContent = lang === 'zh' ? 'English' : '中文';
  $('resolution').options[0].textContent = t('auto');
  renderModels();
  if (shown) setProgress(shown); else $('stage').textContent = t('idle');
  if (upload) $('drop-text').textContent = t('uploaded', { w: upload.width, h: upload.height });
}

async function api(path, options) {
  const r = await fetch(API + path, Object.assign({ credentials: 'same-origin' }, options || {}));
  const type = r.headers.get('content-type') || '';
  const body = type.includes('json') ? await r.json() : null;
  if (!r.ok) {
    const e = new Error((body && body.error && body.error.message) || (r.status + ' ' + r.statusText));
    e.field = body && body.error && body.error.field;
    throw e;
  }
  return body;
}

function showError(message, field) {
  document.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
  const box = $('error');
  if (!message) { box.hidden = true; box.textContent = ''; return; }
  box.textContent = message;
  box.hidden = false;
  const input = field && $(field === 'image' ? 'image' : field);
  if (input) { input.classList.add('invalid'); if (input.focus) input.focus(); }
}

function renderModels() {
  const select = $('model');
  const keep = select.value;
  select.textContent = '';
  for (const m of models.filter((m) => m.tasks.includes(task()))) {
    const o = document.createElement('option');
    o.value = m.id;
    o.textContent = m.available ? m.id : m.id + ' (' + t('notInstalled') + ')';
    select.appendChild(o);
  }
  const want = models.some((m) => m.id === keep && m.tasks.includes(task())) ? keep : defaults[task()];
  if (want) select.value = want;
  modelChanged();
}

function modelChanged() {
  const m = models.find((x) => x.id === $('model').value);
  const note = $('model-note');
  if (m && !m.available) {
    note.textContent = t('missing') + '\n' + m.missing.map((f) => '  ' + f.path + (f.url ? '\n    ' + f.url : '')).join('\n');
    note.hidden = false;
  } else { note.hidden = true; }
  $('generate').disabled = !!(m && !m.available);
  $('num_frames').placeholder = m ? String(m.default_frames) : '81';
  $('size').placeholder = (m && m.default_size) || '832x480';
  $('sigma_max').placeholder = task() === 'i2v' ? '200' : '80';
  $('i2v-box').hidden = task() !== 'i2v';
}

function numberField(body, id, integer) {
  const v = $(id).value.trim();
  if (v === '') return;
  body[id] = integer ? parseInt(v, 10) : parseFloat(v);
}

function requestBody() {
  const body = { task: task(), model: $('model').value, prompt: $('prompt').value.trim(),
    num_steps: parseInt($('num_steps').value, 10), aspect_ratio: $('aspect_ratio').value,
    attention_type: $('attention_type').value, quant_linear: $('quant_linear').checked, ode: $('ode').checked };
  body.seed = $('seed-random').checked ? 'random' : parseInt($('seed').value || '0', 10);
  if ($('resolution').value) body.resolution = $('resolution').value;
  if ($('size').value.trim()) body.size = $('size').value.trim();
  numberField(body, 'num_frames', true);
  numberField(body, 'sla_topk', false);
  numberField(body, 'sigma_max', false);
  numberField(body, 'num_samples', true);
  if (body.task === 'i2v') {
    body.boundary = parseFloat($('boundary').value);
    body.adaptive_resolution = $('adaptive_resolution').checked;
    if (upload) body.image = upload.id;
  }
  return body;
}

async function generate(event) {
  event.preventDefault();
  showError(null);
  const body = requestBody();
  if (!body.prompt) return showError(t('noPrompt'), 'prompt');
  if (body.task === 'i2v' && !upload && body.model !== 'demo') return showError(t('needImage'), 'image');
  $('generate').disabled = true;
  try {
    const created = await api('/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    follow(created.id);
  } catch (e) {
    showError(e.message, e.field);
  } finally {
    modelChanged();
    refreshJobs();
  }
}

function setProgress(job) {
  shown = job;
  const p = job.progress || { stage: job.status, step: 0, steps: 0, fraction: 0 };
  const fill = $('bar-fill');
  let label = stageName(p.stage) + (p.steps ? ' ' + p.step + '/' + p.steps : '');
  let eta = p.eta_s != null ? t('eta', { s: duration(p.eta_s) }) : '';
  if (job.status === 'queued') label = t('queued');
  if (job.status === 'succeeded') {
    const took = (new Date(job.finished_at) - new Date(job.started_at)) / 1000;
    label = t('done', { s: duration(took) });
    eta = '';
  }
  if (job.status === 'failed' || job.status === 'cancelled') { label = t(job.status); eta = ''; }
  $('stage').textContent = label;
  $('eta').textContent = eta;
  fill.style.width = Math.round((job.status === 'succeeded' ? 1 : p.fraction) * 100) + '%';
  fill.parentElement.setAttribute('aria-valuenow', String(Math.round(p.fraction * 100)));
  $('cancel').hidden = !(job.status === 'queued' || job.status === 'running');
}

function play(url) {
  const v = $('video');
  v.src = url;
  v.hidden = false;
  $('placeholder').hidden = true;
  v.play().catch(() => {});
}

function follow(id) {
  if (source) source.close();
  current = id;
  source = new EventSource(API + '/jobs/' + id + '/events');
  source.addEventListener('progress', (e) => setProgress(JSON.parse(e.data)));
  source.addEventListener('done', (e) => {
    const job = JSON.parse(e.data);
    source.close();
    source = null;
    setProgress(job);
    if (job.status === 'succeeded' && job.output) play(job.output.url);
    if (job.status === 'failed') showError(job.error || t('failed'));
    refreshJobs();
    refreshGallery();
    refreshLogs();
  });
}

async function refreshJobs() {
  try {
    const { jobs } = await api('/jobs');
    const list = $('jobs');
    list.textContent = '';
    for (const job of jobs.slice(0, 30)) {
      const li = document.createElement('li');
      const status = document.createElement('span');
      status.className = 'status ' + job.status;
      status.textContent = job.status === 'running' && job.progress ? Math.round(job.progress.fraction * 100) + '%' : statusName(job.status);
      const prompt = document.createElement('span');
      prompt.className = 'prompt';
      prompt.textContent = job.request.task + ' · ' + job.request.model + ' · ' + job.request.seed + ' · ' + job.request.prompt;
      prompt.title = job.error || job.request.prompt;
      const act = document.createElement('button');
      act.className = 'ghost small';
      act.type = 'button';
      if (job.status === 'succeeded' && job.output) {
        act.textContent = t('play');
        act.onclick = () => play(job.output.url);
      } else if (!['failed', 'cancelled', 'succeeded'].includes(job.status)) {
        act.textContent = t('cancel');
        act.onclick = () => cancelJob(job.id);
      } else { act.hidden = true; }
      li.append(status, prompt, act);
      list.appendChild(li);
    }
    const active = jobs.find((j) => j.status === 'running') || jobs.find((j) => j.status === 'queued');
    if (active && !source) follow(active.id);
  } catch (e) { /* the state pill shows when the server is unreachable */ }
}

async function cancelJob(id) {
  try { await api('/jobs/' + id, { method: 'DELETE' }); } catch (e) { showError(e.message, e.field); }
  refreshJobs();
}

async function refreshGallery() {
  try {
    const { outputs } = await api('/outputs');
    const g = $('gallery');
    g.textContent = '';
    $('gallery-empty').hidden = outputs.length > 0;
    for (const o of outputs) {
      const tile = document.createElement('div');
      tile.className = 'tile';
      const v = document.createElement('video');
      v.src = o.url;
      v.preload = 'metadata';
      v.muted = true;
      v.playsInline = true;
      v.onclick = () => play(o.url);
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = o.name;
      meta.title = o.name + ' · ' + new Date(o.modified_at).toLocaleString() + ' · ' + Math.round(o.bytes / 1024) + ' KiB';
      const acts = document.createElement('div');
      acts.className = 'acts';
      const p = document.createElement('button');
      p.type = 'button';
      p.textContent = t('play');
      p.onclick = () => play(o.url);
      const d = document.createElement('a');
      d.href = o.url + '?download=1';
      d.download = o.name;
      d.textContent = t('download');
      const x = document.createElement('button');
      x.type = 'button';
      x.className = 'danger';
      x.textContent = t('delete');
      x.onclick = async () => {
        if (!confirm(t('confirmDelete', { name: o.name }))) return;
        try { await api('/outputs/' + encodeURIComponent(o.name), { method: 'DELETE' }); } catch (e) { showError(e.message, e.field); }
        refreshGallery();
      };
      acts.append(p, d, x);
      tile.append(v, meta, acts);
      g.appendChild(tile);
    }
  } catch (e) { /* shown by the state pill */ }
}

async function refreshLogs() {
  try {
    const { lines } = await api('/logs?lines=200');
    const pre = $('logs');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.textContent = lines.join('\n');
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch (e) { /* shown by the state pill */ }
}

async function refreshHealth() {
  const pill = $('server-state');
  try {
    const h = await api('/health');
    const busy = h.running || h.queued > 0;
    pill.textContent = busy ? t('busy', { r: h.running ? 1 : 0, q: h.queued }) : t('ready');
    pill.classList.toggle('busy', !!busy);
  } catch (e) { pill.textContent = t('offline'); pill.classList.remove('busy'); }
}

async function restart() {
  if (!confirm(t('confirmRestart'))) return;
  $('restart').disabled = true;
  try {
    const r = await api('/restart', { method: 'POST' });
    $('stage').textContent = t('restarted') + ': ' + r.released;
  } catch (e) { showError(e.message, e.field); }
  $('restart').disabled = false;
  refreshJobs();
  refreshLogs();
}

async function chooseImage() {
  const file = $('image').files[0];
  if (!file) return;
  showError(null);
  const preview = $('preview');
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $('drop-text').textContent = t('uploading');
  upload = null;
  try {
    upload = await api('/uploads', { method: 'POST', headers: { 'Content-Type': file.type || 'application/octet-stream' }, body: file });
    $('drop-text').textContent = t('uploaded', { w: upload.width, h: upload.height });
  } catch (e) {
    preview.hidden = true;
    $('drop-text').textContent = t('imageHint');
    showError(e.message, 'image');
  }
}

async function start() {
  applyLang();
  $('lang').onclick = () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('td-lang', lang); applyLang(); refreshHealth(); refreshJobs(); refreshGallery(); };
  $('form').addEventListener('submit', generate);
  $('model').onchange = modelChanged;
  document.querySelectorAll('input[name=task]').forEach((r) => { r.onchange = renderModels; });
  $('num_steps').oninput = () => { $('steps-out').textContent = $('num_steps').value; };
  $('boundary').oninput = () => { $('boundary-out').textContent = $('boundary').value; };
  $('seed-random').onchange = () => { $('seed').disabled = $('seed-random').checked; };
  $('image').onchange = chooseImage;
  const drop = $('drop');
  drop.addEventListener('dragover', () => drop.classList.add('over'));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', () => drop.classList.remove('over'));
  $('cancel').onclick = () => { if (current) cancelJob(current); };
  $('restart').onclick = restart;
  $('refresh-gallery').onclick = refreshGallery;
  $('refresh-logs').onclick = refreshLogs;
  try {
    const m = await api('/models');
    models = m.models;
    defaults = m.defaults;
    renderModels();
  } catch (e) { showError(e.message); }
  refreshHealth();
  refreshJobs();
  refreshGallery();
  refreshLogs();
  pollTimer = setInterval(() => { refreshHealth(); refreshLogs(); if (source) refreshJobs(); }, 4000);
}

document.addEventListener('DOMContentLoaded', start);
"""#
}

extension WebPage {
    /// Every label carries `data-i18n` (its key in app.js's tables) so the language switch can relabel it.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TurboDiffusion</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand"><span class="logo">▶</span> TurboDiffusion <span class="sub" data-i18n="subtitle">video generation</span></div>
  <div class="top-actions">
    <span id="server-state" class="pill">…</span>
    <button id="restart" class="ghost" type="button" data-i18n="restart" title="">Restart</button>
    <button id="lang" class="ghost" type="button">中文</button>
  </div>
</header>
<main class="layout">
  <form id="form" class="card controls" novalidate>
    <div class="row model-mode">
      <label><span data-i18n="model">Model</span>
        <select id="model" name="model"></select></label>
      <fieldset class="mode"><legend data-i18n="mode">Mode</legend>
        <label class="seg"><input type="radio" name="task" value="t2v" checked><span data-i18n="t2v">Text → video</span></label>
        <label class="seg"><input type="radio" name="task" value="i2v"><span data-i18n="i2v">Image → video</span></label>
      </fieldset>
    </div>
    <p id="model-note" class="note" hidden></p>
    <label><span data-i18n="prompt">Prompt</span>
      <textarea id="prompt" name="prompt" rows="4" maxlength="4000" required data-i18n-placeholder="promptHint" placeholder="Describe the video…"></textarea></label>
    <div id="i2v-box" class="i2v" hidden>
      <label class="drop" id="drop"><input type="file" id="image" accept="image/png,image/jpeg">
        <img id="preview" alt="" hidden><span id="drop-text" data-i18n="imageHint">Choose or drop a PNG/JPEG image</span></label>
      <div class="row two">
        <label><span data-i18n="boundary">Boundary</span> <output id="boundary-out">0.9</output>
          <input type="range" id="boundary" min="0" max="1" step="0.05" value="0.9"></label>
        <label class="check"><input type="checkbox" id="adaptive_resolution"><span data-i18n="adaptive">Adaptive resolution</span></label>
      </div>
    </div>
    <div class="row three">
      <label><span data-i18n="resolution">Resolution</span>
        <select id="resolution"><option value="">auto</option><option>480p</option><option>720p</option></select></label>
      <label><span data-i18n="aspect">Aspect ratio</span>
        <select id="aspect_ratio"><option>16:9</option><option>9:16</option><option>4:3</option><option>3:4</option><option>1:1</option></select></label>
      <label><span data-i18n="steps">Steps</span> <output id="steps-out">4</output>
        <input type="range" id="num_steps" min="1" max="4" step="1" value="4"></label>
    </div>
    <div class="row three">
      <label><span data-i18n="seed">Seed</span>
        <input type="number" id="seed" min="0" step="1" value="0" inputmode="numeric"></label>
      <label class="check"><input type="checkbox" id="seed-random"><span data-i18n="random">Random</span></label>
      <label><span data-i18n="frames">Frames</span>
        <input type="number" id="num_frames" min="1" max="161" step="4" inputmode="numeric"></label>
    </div>
    <details class="advanced">
      <summary data-i18n="advanced">Advanced</summary>
      <div class="row three">
        <label><span data-i18n="attention">Attention</span>
          <select id="attention_type"><option value="sagesla">SageSLA</option><option value="sla">SLA</option><option value="original">original</option></select></label>
        <label><span data-i18n="topk">SLA top-k</span>
          <input type="number" id="sla_topk" min="0.01" max="1" step="0.01" placeholder="0.1"></label>
        <label><span data-i18n="sigma">sigma_max</span>
          <input type="number" id="sigma_max" min="0.1" step="any" placeholder="80"></label>
      </div>
      <div class="row three">
        <label><span data-i18n="size">Custom size</span>
          <input type="text" id="size" placeholder="832x480" pattern="[0-9]+x[0-9]+"></label>
        <label><span data-i18n="samples">Samples</span>
          <input type="number" id="num_samples" min="1" max="4" value="1"></label>
        <div class="checks">
          <label class="check"><input type="checkbox" id="quant_linear"><span data-i18n="quant">W8A8 (quant_linear)</span></label>
          <label class="check"><input type="checkbox" id="ode"><span data-i18n="ode">ODE sampling</span></label>
        </div>
      </div>
    </details>
    <div id="error" class="error" role="alert" hidden></div>
    <button id="generate" class="primary" type="submit" data-i18n="generate">Generate</button>
  </form>
  <section class="card result">
    <div class="progress-head">
      <span id="stage">Idle</span>
      <span id="eta" class="muted"></span>
    </div>
    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div id="bar-fill"></div></div>
    <div class="player">
      <video id="video" controls loop playsinline hidden></video>
      <div id="placeholder" class="placeholder" data-i18n="placeholder">Your video appears here</div>
    </div>
    <div class="job-actions"><button id="cancel" class="ghost" type="button" data-i18n="cancel" hidden>Cancel</button></div>
    <h3 data-i18n="queue">Queue</h3>
    <ul id="jobs" class="jobs"></ul>
  </section>
  <section class="card gallery-card">
    <div class="section-head"><h3 data-i18n="gallery">Gallery</h3>
      <button id="refresh-gallery" class="ghost small" type="button" data-i18n="refresh">Refresh</button></div>
    <div id="gallery" class="gallery"></div>
    <p id="gallery-empty" class="muted" data-i18n="galleryEmpty" hidden>No videos yet.</p>
  </section>
  <section class="card logs-card">
    <div class="section-head"><h3 data-i18n="logs">Server log</h3>
      <button id="refresh-logs" class="ghost small" type="button" data-i18n="refresh">Refresh</button></div>
    <pre id="logs" class="logs"></pre>
  </section>
</main>
</body>
</html>
"""#
}

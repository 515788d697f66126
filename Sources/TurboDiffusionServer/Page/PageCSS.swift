extension WebPage {
    static let css = #"""
:root {
  --bg: #0f1217; --card: #181c23; --line: #2a303a; --text: #e6e9ef; --muted: #8c95a3;
  --accent: #4f8cff; --accent2: #7b5cff; --danger: #ff5d6c; --ok: #35c28a; --radius: 12px;
  color-scheme: dark;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; }
.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: .8rem 1.4rem;
  border-bottom: 1px solid var(--line); background: #12161c; position: sticky; top: 0; z-index: 2; }
.brand { font-weight: 700; font-size: 1.15rem; letter-spacing: .01em; white-space: nowrap; }
.brand .logo { display: inline-grid; place-items: center; width: 1.7rem; height: 1.7rem; border-radius: 8px; margin-right: .35rem;
  background: linear-gradient(135deg, var(--accent), var(--accent2)); font-size: .8rem; }
.brand .sub { color: var(--muted); font-weight: 400; font-size: .9rem; margin-left: .4rem; }
.top-actions { display: flex; gap: .5rem; align-items: center; }
.pill { font-size: .8rem; color: var(--muted); border: 1px solid var(--line); border-radius: 999px; padding: .15rem .6rem; }
.pill.busy { color: var(--accent); border-color: var(--accent); }
.layout { display: grid; grid-template-columns: minmax(320px, 440px) 1fr; gap: 1rem; padding: 1rem 1.4rem; max-width: 1400px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem 1.1rem; }
.controls { grid-row: span 3; display: flex; flex-direction: column; gap: .75rem; align-self: start; position: sticky; top: 4.5rem; }
.gallery-card, .logs-card { grid-column: 2; }
label { display: flex; flex-direction: column; gap: .3rem; font-size: .85rem; color: var(--muted); }
label > span, legend { font-size: .85rem; color: var(--muted); }
input, select, textarea { font: inherit; color: var(--text); background: #0f1318; border: 1px solid var(--line); border-radius: 8px; padding: .5rem .6rem; width: 100%; }
textarea { resize: vertical; min-height: 5.5rem; }
.invalid { border-color: var(--danger) !important; }
input:focus, select:focus, textarea:focus { outline: 2px solid color-mix(in srgb, var(--accent) 60%, transparent); border-color: var(--accent); }
input[type=range] { padding: 0; accent-color: var(--accent); }
input[type=checkbox], input[type=radio] { width: auto; accent-color: var(--accent); }
output { color: var(--text); font-weight: 600; }
.row { display: grid; gap: .75rem; }
.row.two { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
.row.model-mode { grid-template-columns: minmax(0, 1fr) auto; }
.row.three { grid-template-columns: repeat(3, 1fr); align-items: end; }
.check { flex-direction: row; align-items: center; gap: .45rem; color: var(--text); padding-bottom: .55rem; }
.checks { display: flex; flex-direction: column; }
.checks .check { padding-bottom: .2rem; }
fieldset.mode { border: 0; padding: 0; margin: 0; display: flex; flex-wrap: nowrap; gap: .3rem; align-content: end; }
fieldset.mode legend { padding: 0 0 .3rem; }
.seg { white-space: nowrap; flex-direction: row; align-items: center; gap: .3rem; border: 1px solid var(--line); border-radius: 8px; padding: .45rem .6rem; cursor: pointer; color: var(--text); }
.seg:has(input:checked) { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 15%, transparent); }
.seg input { display: none; }
.note { margin: 0; font-size: .82rem; color: #f3c96b; background: #2a2414; border: 1px solid #4a3d1a; border-radius: 8px; padding: .5rem .6rem; white-space: pre-wrap; }
.drop { position: relative; border: 1.5px dashed var(--line); border-radius: 10px; min-height: 7rem; display: grid; place-items: center; cursor: pointer; overflow: hidden; text-align: center; }
.drop.over { border-color: var(--accent); }
.drop input { position: absolute; inset: 0; opacity: 0; cursor: pointer; }
.drop img { max-width: 100%; max-height: 12rem; display: block; }
.advanced summary { cursor: pointer; color: var(--muted); margin-bottom: .6rem; }
.advanced[open] { display: flex; flex-direction: column; gap: .75rem; }
button { font: inherit; cursor: pointer; white-space: nowrap; border-radius: 8px; border: 1px solid var(--line); padding: .5rem .9rem; color: var(--text); background: #222833; }
button:disabled { opacity: .55; cursor: progress; }
button.primary { border: 0; padding: .75rem; font-weight: 700; font-size: 1rem; background: linear-gradient(135deg, var(--accent), var(--accent2)); }
button.ghost { background: transparent; }
button.ghost:hover { border-color: var(--accent); }
button.small { padding: .25rem .6rem; font-size: .8rem; }
button.danger { color: var(--danger); }
.error { color: #ffd9dd; background: #3a1920; border: 1px solid #6b2430; border-radius: 8px; padding: .55rem .7rem; font-size: .88rem; white-space: pre-wrap; }
.progress-head { display: flex; justify-content: space-between; font-size: .9rem; margin-bottom: .4rem; }
.muted { color: var(--muted); }
.bar { height: 10px; background: #0f1318; border-radius: 999px; overflow: hidden; border: 1px solid var(--line); }
#bar-fill { height: 100%; width: 0; background: linear-gradient(90deg, var(--accent), var(--accent2)); transition: width .25s ease; }
.player { position: relative; margin-top: .9rem; background: #0b0d11; border-radius: 10px; aspect-ratio: 16 / 9; display: grid; place-items: center; overflow: hidden; }
.player video { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; background: #000; }
.placeholder { color: var(--muted); }
.job-actions { display: flex; justify-content: flex-end; margin-top: .5rem; min-height: 2.2rem; }
h3 { margin: .4rem 0 .6rem; font-size: .95rem; }
.jobs { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .35rem; max-height: 14rem; overflow: auto; }
.jobs li { display: grid; grid-template-columns: auto 1fr auto; gap: .6rem; align-items: center; font-size: .85rem; padding: .35rem .5rem; border-radius: 8px; background: #12161c; }
.jobs .prompt { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.status { font-size: .72rem; text-transform: uppercase; letter-spacing: .04em; border-radius: 6px; padding: .1rem .4rem; background: #222833; }
.status.running { color: var(--accent); } .status.succeeded { color: var(--ok); }
.status.failed { color: var(--danger); } .status.cancelled { color: var(--muted); }
.section-head { display: flex; justify-content: space-between; align-items: center; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: .8rem; }
.tile { background: #12161c; border: 1px solid var(--line); border-radius: 10px; overflow: hidden; display: flex; flex-direction: column; }
.tile video { width: 100%; aspect-ratio: 16 / 9; object-fit: cover; background: #000; cursor: pointer; }
.tile .meta { padding: .4rem .5rem; font-size: .75rem; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tile .acts { display: flex; flex-wrap: wrap; gap: .3rem; padding: 0 .5rem .5rem; }
.tile .acts a, .tile .acts button { font-size: .75rem; padding: .2rem .5rem; color: var(--text); text-decoration: none; border: 1px solid var(--line); border-radius: 6px; background: transparent; }
.logs { margin: 0; max-height: 16rem; overflow: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #c9d1dc; background: #0b0d11; border-radius: 8px; padding: .6rem .7rem; white-space: pre-wrap; word-break: break-all; }
@media (max-width: 900px) {
  .layout { grid-template-columns: 1fr; padding: .7rem; }
  .controls { grid-row: auto; position: static; }
  .gallery-card, .logs-card { grid-column: 1; }
  .brand .sub { display: none; }
}
@media (max-width: 480px) {
  .row.three { grid-template-columns: 1fr 1fr; }
  .pill { display: none; }
  .top { padding: .6rem .8rem; }
}
"""#
}

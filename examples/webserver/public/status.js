// The status page's script: everything it shows comes from /api/stream,
// server-sent events sent by a task of the server's (one per open page):
// first the samples the server kept (event "history": the charts start
// full), then the stats once a second. Each stats event holds the counts
// and the task tree of one snapshot, so the count above the tree is the
// count of that tree. No library: the charts are SVG drawn here.

const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat("en");
const plural = (n, one, many) => `${number.format(n)} ${n === 1 ? one : many}`;

/** Sets an element's text (never HTML: task names come from request paths). */
function text(element, value) {
  element.textContent = value;
}

/** Says (or, with null, stops saying) that the server is not answering. */
function problem(message) {
  const p = $("error");
  p.hidden = message === null;
  text(p, message ?? "");
  text($("connection"), message === null ? "live" : "reconnecting…");
  $("connection").classList.toggle("down", message !== null);
}

// ------------------------------------------------------------------ charts

/** The samples drawn (oldest first), and how many the server keeps. */
let samples = [];
let keep = 300;
/** Seconds between two samples. */
let interval = 1;

const SVG = "http://www.w3.org/2000/svg";
/** The SVG's own units; it is stretched to the figure's width (the lines keep their width). */
const W = 300;
const H = 80;

/** A round number at or above `n` for the top of a chart: 1, 2 or 5 times a power of ten. */
function ceiling(n) {
  if (n <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (n <= step * power) return step * power;
  return 10 * power;
}

/** "5 min", "1 min", "40 s": how long a span of seconds is. */
function duration(seconds) {
  return seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

/** Makes each figure's SVG once: a grid line, the area under the line, the line. */
function setUpChart(figure) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true"); // the figure's text says what it shows
  for (const [tag, cls] of [
    ["line", "grid"],
    ["polygon", "area"],
    ["polyline", "line"],
  ]) {
    const element = document.createElementNS(SVG, tag);
    element.setAttribute("class", cls);
    element.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(element);
  }
  const grid = svg.querySelector(".grid");
  for (const [k, v] of Object.entries({ x1: 0, x2: W, y1: H / 2, y2: H / 2 })) {
    grid.setAttribute(k, v);
  }
  figure.querySelector(".plot").append(svg);
}

/** Draws the samples of the last `span` seconds in every chart, with their values as text. */
function drawCharts() {
  const last = samples.at(-1);
  if (last === undefined) return;
  // The last minute at least, the whole history kept at most.
  const covered = last.uptime - samples[0].uptime;
  const span = Math.min(keep * interval, Math.max(60, Math.ceil(covered / 60) * 60));
  text($("span"), span >= 90 ? `last ${duration(span)}` : "last minute");
  for (const figure of document.querySelectorAll(".chart")) {
    const key = figure.dataset.series;
    const values = samples.map((s) => s[key]);
    const max = Math.max(...values);
    const top = ceiling(max * 1.1); // some room above the highest point
    const x = (s) => (W * (s.uptime - (last.uptime - span))) / span;
    const y = (v) => H - (H * v) / top;
    const points = samples.map((s) => `${x(s).toFixed(1)},${y(s[key]).toFixed(1)}`);
    figure.querySelector(".line").setAttribute("points", points.join(" "));
    const base = `${x(samples[0]).toFixed(1)},${H} `;
    figure
      .querySelector(".area")
      .setAttribute("points", `${base}${points.join(" ")} ${x(last).toFixed(1)},${H}`);
    figure.dataset.points = String(points.length);
    const average = values.reduce((sum, v) => sum + v, 0) / values.length;
    text(figure.querySelector(".now"), number.format(last[key]));
    text(figure.querySelector(".top"), number.format(top));
    text(
      figure.querySelector(".summary"),
      `now ${number.format(last[key])}, highest ${number.format(max)}, ` +
        `average ${number.format(Math.round(average * 10) / 10)} ` +
        `over ${duration(Math.max(covered, interval))}`,
    );
  }
}

// ------------------------------------------------------------ the task tree

/** Ids of the tasks whose children the reader folded away: kept across redraws. */
const folded = new Set();

/** One task: its name and what it does, its stack, then its children (foldable). */
function taskItem(node) {
  const li = document.createElement("li");
  li.className = "task";
  const head = document.createElement("span");
  head.className = "head";
  const name = document.createElement("span");
  name.className = "name";
  text(name, node.name);
  const doing = document.createElement("span");
  doing.className = `doing ${node.state}`;
  text(doing, node.doing);
  head.append(name, " ", doing);
  const stack = document.createElement("span");
  stack.className = "stack";
  text(stack, node.stack.length > 0 ? `at ${node.stack.join(" › ")}` : "");
  if (node.children.length === 0) {
    li.append(head, stack);
    return li;
  }
  const details = document.createElement("details");
  details.open = !folded.has(node.id);
  details.addEventListener("toggle", () => {
    if (details.open) folded.delete(node.id);
    else folded.add(node.id);
  });
  const summary = document.createElement("summary");
  summary.append(head);
  const children = document.createElement("ul");
  for (const child of node.children) children.append(taskItem(child));
  details.append(summary, stack, children);
  li.append(details);
  return li;
}

/** The count and the tree of one snapshot. */
function showTasks(stats) {
  const { total, runnable, waiting } = stats.tasks;
  text(
    $("counted"),
    `${plural(total, "live task", "live tasks")}: ${number.format(runnable)} runnable, ` +
      `${number.format(waiting)} waiting` +
      (stats.omitted > 0 ? `; the first ${number.format(total - stats.omitted)} shown` : ""),
  );
  const tree = document.createElement("ul");
  tree.id = "tree";
  tree.className = "tree";
  for (const node of stats.tree) tree.append(taskItem(node));
  $("tree").replaceWith(tree);
}

// ------------------------------------------------------------------ stream

function showStats(stats) {
  text(
    $("facts"),
    `Process ${stats.pid}, up ${duration(stats.uptime)}: ` +
      `${plural(stats.requests, "request", "requests")} answered, ` +
      `${plural(stats.steps, "step", "steps")}, ` +
      `${plural(stats.tasksCreated, "task", "tasks")} started.`,
  );
  showTasks(stats);
  // A sample for the charts, unless the history already holds it (the same moment).
  if (stats.uptime > (samples.at(-1)?.uptime ?? -1)) {
    samples.push({
      uptime: stats.uptime,
      stepsPerSecond: stats.stepsPerSecond,
      requestsPerSecond: stats.requestsPerSecond,
      liveTasks: stats.tasks.total,
    });
    if (samples.length > keep) samples.shift();
  }
  drawCharts();
}

for (const figure of document.querySelectorAll(".chart")) setUpChart(figure);

const stream = new EventSource("/api/stream");
// First on each connection (again after a reconnect): the samples the server kept.
stream.addEventListener("history", (event) => {
  const history = JSON.parse(event.data);
  keep = history.keep;
  interval = history.interval;
  samples = history.samples;
  drawCharts();
});
stream.onmessage = (event) => {
  showStats(JSON.parse(event.data));
  problem(null);
};
stream.onerror = () => problem("The server is not answering (the page retries by itself).");

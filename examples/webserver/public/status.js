// The status page's script: everything it shows comes from /api/stream,
// server-sent events sent by a task of the server's (one per page open).
// Each event holds the stats and the task tree of one snapshot, so the
// count above the tree is the count of that tree.

const $ = (id) => document.getElementById(id);

/** Sets an element's text (never HTML: task names come from request paths). */
function text(id, value) {
  $(id).textContent = value;
}

/** Says (or, with null, stops saying) that the server is not answering. */
function problem(message) {
  const p = $("error");
  p.hidden = message === null;
  p.textContent = message ?? "";
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

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
  name.textContent = node.name;
  const doing = document.createElement("span");
  doing.className = `doing ${node.state}`;
  doing.textContent = node.doing;
  head.append(name, " ", doing);
  const stack = document.createElement("span");
  stack.className = "stack";
  stack.textContent = node.stack.length > 0 ? `at ${node.stack.join(" › ")}` : "";
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
    "counted",
    `${plural(total, "live task", "live tasks")} (${runnable} runnable, ${waiting} waiting)` +
      (stats.omitted > 0 ? `; the first ${total - stats.omitted} shown` : ""),
  );
  const tree = document.createElement("ul");
  tree.id = "tree";
  tree.className = "tree";
  for (const node of stats.tree) tree.append(taskItem(node));
  $("tree").replaceWith(tree);
}

// ------------------------------------------------------------------ stream

function showStats(stats) {
  text("uptime", `${stats.uptime.toFixed(0)} s`);
  text("requests", stats.requests);
  text("steps", stats.stepsPerSecond);
  text("pid", stats.pid);
  showTasks(stats);
}

const stream = new EventSource("/api/stream");
stream.onmessage = (event) => {
  showStats(JSON.parse(event.data));
  problem(null);
};
stream.onerror = () => problem("The server is not answering (the page retries by itself).");

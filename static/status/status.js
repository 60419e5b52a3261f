// The status page: polls the stats end point and draws the last hour as sparklines.
const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 10000;

const byId = (id) => document.getElementById(id);

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

function sparkline(svg, values) {
  svg.replaceChildren();
  if (values.length === 0) return;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 300 / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(58 - (v / max) * 54).toFixed(1)}`);
  const area = document.createElementNS(SVG, "polygon");
  area.setAttribute("points", `0,60 ${points.join(" ")} ${((values.length - 1) * step).toFixed(1)},60`);
  area.setAttribute("class", "area");
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", "line");
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", "2");
  label.setAttribute("y", "12");
  label.setAttribute("text-anchor", "start");
  label.textContent = `max ${Number.isInteger(max) ? max : max.toFixed(1)}`;
  svg.append(area, line, label);
}

function render(stats) {
  const hub = stats.hub, history = stats.history || { uptime: 0, samples: [] };
  byId("uptime").textContent = duration(history.uptime);
  const cluster = hub.cluster;
  byId("sessions").textContent = cluster ? `${hub.sessions} (cluster ${cluster.sessions})` : String(hub.sessions);
  byId("rooms").textContent = cluster ? `${hub.rooms} (cluster ${cluster.rooms})` : String(hub.rooms);
  byId("users").textContent = String(hub.users);
  byId("count").textContent = String(hub.count);
  byId("version").textContent = stats.version || "–";
  for (const key of ["sessions", "rooms", "messagesIn", "messagesOut"]) {
    sparkline(byId(`chart-${key}`), history.samples.map((s) => s[key]));
  }
  const warnings = stats.warnings || [];
  byId("warnings").hidden = warnings.length === 0;
  byId("warning-list").replaceChildren(...warnings.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  byId("error").hidden = true;
}

async function refresh() {
  try {
    const response = await fetch("api/v1/stats?history=1", { cache: "no-store" });
    if (!response.ok) throw new Error(`stats answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    byId("error").textContent = `Cannot read the server's stats: ${error.message}`;
    byId("error").hidden = false;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);

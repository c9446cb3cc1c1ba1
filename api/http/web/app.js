// Passerelles: the counsellors' page. Plain JavaScript, no framework, no network beyond this API.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { occupation: null, suggestions: [], active: -1, bridges: [], searchTimer: null };

// ---- talking to the API ----------------------------------------------------------------------
// The counsellor key: the one typed in the seeker form (kept for the session once used).
function apiKey() { return ($("#api-key") && $("#api-key").value.trim()) || sessionStorage.getItem("passerelles-key") || ""; }

// JSON in and out with the page's key when there is one; a problem's detail as the error (used by offer.js too).
async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let answer = null;
  try { answer = await response.json(); } catch (e) { answer = null; }
  if (!response.ok) {
    const detail = answer && (answer.detail || answer.title);
    const error = new Error(typeof detail === "string" ? detail : `Erreur ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return answer;
}

// Lists come either bare or wrapped ({results: [...]} / {items: [...]}).
function listOf(body, ...keys) {
  if (Array.isArray(body)) return body;
  for (const key of [...keys, "results", "items"]) if (body && Array.isArray(body[key])) return body[key];
  return [];
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function setStatus(id, text, isError = false) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("error", isError);
}

const KINDS = { "savoir-faire": "savoir-faire", "savoir": "savoir", "savoir-être": "savoir-être" };

function skillItem(skill) {
  const item = el("li", {}, skill.label || skill.code);
  if (skill.core) item.append(el("span", { class: "badge core", title: "Compétence cœur de métier" }, "cœur"));
  if (skill.kind && skill.kind !== "savoir-faire") item.append(el("span", { class: "badge kind" }, KINDS[skill.kind] || skill.kind));
  if (typeof skill.weight === "number") item.append(el("span", { class: "weight" }, `poids ${skill.weight.toFixed(2)}`));
  return item;
}

const RULES_FR = {
  "the source's label contains the target's": "l'intitulé de la compétence acquise contient celui-ci",
  "the target only adds a detail": "seul un détail s'ajoute",
  "related only (close)": "proche seulement",
  "knowledge does not give know-how": "un savoir ne vaut pas un savoir-faire",
  "a soft skill is only itself": "un savoir-être ne vaut que lui-même",
  "one diploma or certification does not give another": "un diplôme n'en vaut pas un autre",
  "only a diploma gives a diploma": "seul un diplôme vaut un diplôme",
  "a whole field is not held through one of its objects": "un domaine entier ne s'acquiert pas par l'un de ses objets",
  "learning a skill is not holding it": "apprendre une compétence n'est pas la détenir",
  "a broad field is not held through a corner of it": "un vaste domaine ne s'acquiert pas par l'un de ses recoins",
  "the target adds a qualifier the source lacks": "la compétence visée ajoute une précision absente de l'autre",
  "the encoder reads the labels apart": "le modèle de langue lit les deux intitulés comme différents",
  "the same words, not the same phrase (head and modifier swapped)": "les mêmes mots, pas la même expression",
  "checking an act is not doing it": "contrôler un geste n'est pas le faire",
  "the source is mostly about something else": "la compétence acquise porte surtout sur autre chose",
};

// A held skill acquired through another, or a close one: which skill of the person, and why.
function viaItem(skill, close) {
  const item = skillItem(skill);
  if (skill.via) {
    const why = RULES_FR[skill.via.rule] || skill.via.rule || "";
    const ev = skill.via.evidence || {};
    const title = Object.entries(ev).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(" · ");
    item.append(el("div", { class: "via", title },
      `${close ? "proche de" : "par"} « ${skill.via.label} »${why ? " — " + why : ""}`));
  }
  return item;
}

function coreFirst(skills) {
  return [...skills].sort((a, b) => (b.core === true) - (a.core === true) || (b.weight || 0) - (a.weight || 0));
}

// ---- referential and filters -----------------------------------------------------------------
async function loadReferential() {
  try {
    const info = await api("/referentiel");
    const counts = info.counts || {};
    $("#referential").textContent =
      `Référentiel : ${info.name} ${info.version} — ${counts.occupations ?? "?"} métiers, ${counts.skills ?? "?"} compétences`;
  } catch (error) { setStatus("#referential", `Référentiel indisponible : ${error.message}`, true); }
  try {
    for (const sector of listOf(await api("/sectors"), "sectors")) {
      const name = typeof sector === "string" ? sector : sector.sector || sector.name;
      $("#filter-sector").append(el("option", { value: name }, name));
    }
  } catch (error) { /* referential without sectors: the filter stays on "all" */ }
  try {
    for (const basin of listOf(await api("/basins"), "basins")) {
      $("#filter-basin").append(el("option", { value: basin.id }, `${basin.name} (${basin.region || basin.id})`));
    }
  } catch (error) { $("#filter-basin").closest("label").hidden = true; }
}

// ---- search as you type (ARIA combobox) ------------------------------------------------------
function renderSuggestions() {
  const list = $("#suggestions");
  list.replaceChildren();
  state.suggestions.forEach((s, i) => {
    const option = el("li", { role: "option", id: `suggestion-${i}`, "aria-selected": String(i === state.active),
                              "data-code": s.code, onmousedown: (event) => { event.preventDefault(); choose(i); } },
      el("span", { class: "code" }, s.code), s.label,
      s.title && s.title !== s.label ? el("span", { class: "matched" }, `« ${s.title} »`) : "");
    list.append(option);
  });
  const open = state.suggestions.length > 0;
  list.hidden = !open;
  $("#search").setAttribute("aria-expanded", String(open));
  if (state.active >= 0) $("#search").setAttribute("aria-activedescendant", `suggestion-${state.active}`);
  else $("#search").removeAttribute("aria-activedescendant");
}

async function search(text) {
  if (text.trim().length < 2) { state.suggestions = []; renderSuggestions(); setStatus("#search-status", ""); return; }
  try {
    const body = await api(`/occupations?q=${encodeURIComponent(text)}&k=8`);
    state.suggestions = listOf(body, "matches", "candidates").map((m) => ({
      code: m.code || m.occupation, label: m.label || m.occupation_label, title: m.title || m.matched || m.matched_title,
    }));
    state.active = state.suggestions.length ? 0 : -1;
    renderSuggestions();
    const confident = body && body.confident === false ? " (aucune correspondance sûre : suggestions)" : "";
    setStatus("#search-status", `${state.suggestions.length} métier(s) proposé(s)${confident}`);
  } catch (error) { setStatus("#search-status", error.message, true); }
}

function choose(index) {
  const chosen = state.suggestions[index];
  if (!chosen) return;
  $("#search").value = `${chosen.code} — ${chosen.label}`;
  state.suggestions = []; renderSuggestions();
  openOccupation(chosen.code);
}

function onSearchKey(event) {
  const n = state.suggestions.length;
  if (event.key === "ArrowDown" && n) { state.active = (state.active + 1) % n; renderSuggestions(); event.preventDefault(); }
  else if (event.key === "ArrowUp" && n) { state.active = (state.active - 1 + n) % n; renderSuggestions(); event.preventDefault(); }
  else if (event.key === "Enter") {
    event.preventDefault();
    // A code typed in full opens that occupation, whatever the suggestions of an earlier keystroke say.
    const typed = event.target.value.trim();
    if (/^[A-Z]\d{4}$/i.test(typed)) { clearTimeout(state.searchTimer); state.suggestions = []; renderSuggestions(); openOccupation(typed.toUpperCase()); }
    else if (n && state.active >= 0) choose(state.active);
  } else if (event.key === "Escape") { state.suggestions = []; renderSuggestions(); }
}

// ---- the occupation card ---------------------------------------------------------------------
async function openOccupation(code) {
  try {
    const card = await api(`/occupations/${encodeURIComponent(code)}`);
    state.occupation = card;
    $("#card").hidden = false;
    $("#card-title").textContent = `${card.code} — ${card.label}`;
    const sectors = (card.sectors || []).map((s) => s.sector).join(", ") || "aucun secteur renseigné";
    $("#card-meta").textContent = `Domaine : ${card.domain_label || card.domain || "—"} · Secteurs : ${sectors}`;
    $("#card-skills").replaceChildren(...coreFirst(card.skills || []).map(skillItem));
    $("#card-titles").replaceChildren(...(card.titles || []).map((t) => el("li", {}, t)));
    const mobilities = card.mobility_labels || (card.mobilities || []).map((code) => ({ code, label: "" }));
    $("#card-mobilities").replaceChildren(...(mobilities.length ? mobilities.map((m) =>
      el("li", {}, el("button", { type: "button", class: "link", onclick: () => openOccupation(m.code) },
                     m.label ? `${m.code} — ${m.label}` : m.code)))
      : [el("li", {}, "Aucune dans ce référentiel")]));
    $("#bridges").hidden = false;
    $("#detail").hidden = true;
    await loadBridges();
  } catch (error) { setStatus("#search-status", error.message, true); }
}

// ---- passerelles -----------------------------------------------------------------------------
function bridgeOf(raw) {
  const target = raw.target && typeof raw.target === "object" ? raw.target : raw;
  return {
    code: target.code || raw.target || raw.occupation, label: target.label || raw.label || raw.target_label,
    sectors: (target.sectors || raw.sectors || raw.target_sectors || []).map((s) => (typeof s === "string" ? s : s.sector)),
    score: raw.score ?? raw.bridge ?? raw.bridge_score ?? 0,
    viability: raw.viability || raw.verdict || raw.label_viability || "",
    tension: raw.tension, combined: raw.combined, offers: raw.offers, seekers: raw.seekers, raw,
  };
}

const decimal = (x) => Number(x).toFixed(2).replace(".", ",");

// "0,93" over "12 offres, 0 demandeur": the target's tension in the chosen basin, or a dash.
function tensionCell(b) {
  const cell = el("td", { class: "tension tension-col" });
  if (b.tension == null) { cell.append("—"); return cell; }
  const plural = (n, word) => `${n} ${word}${n > 1 ? "s" : ""}`;
  cell.append(el("strong", {}, decimal(b.tension)),
              el("span", { class: "counts" }, `${plural(b.offers ?? 0, "offre")}, ${plural(b.seekers ?? 0, "demandeur")}`));
  return cell;
}

const VIABILITY = { "highly viable": "très accessible", "viable": "accessible", "stretch": "ambitieuse" };

async function loadBridges() {
  if (!state.occupation) return;
  const params = new URLSearchParams({ k: $("#filter-k").value });
  if ($("#filter-sector").value) params.set("sector", $("#filter-sector").value);
  if ($("#filter-cross").checked) params.set("cross_sector_only", "true");
  const basin = $("#filter-basin").value;
  if (basin) { params.set("basin", basin); params.set("toward_tension", "true"); }
  setStatus("#bridges-status", "Calcul des passerelles…");
  try {
    const body = await api(`/occupations/${state.occupation.code}/passerelles?${params}`);
    state.bridges = listOf(body, "passerelles", "bridges").map(bridgeOf);
    state.basin = body.basin || null;
    renderBridges();
    const toward = state.basin ? `, classées vers les métiers en tension du bassin de ${state.basin.name}` : "";
    setStatus("#bridges-status", `${state.bridges.length} passerelle(s) depuis ${state.occupation.code}${toward}`);
  } catch (error) {
    const needsKey = basin && (error.status === 401 || error.status === 403);
    setStatus("#bridges-status", needsKey ? "La tension d'un bassin est réservée aux conseillers : saisissez votre clé "
      + "d'accès conseiller (section « Offres pour une personne accompagnée »), puis choisissez de nouveau le bassin."
      : error.message, true);
  }
}

function renderBridges() {
  const rows = state.bridges.map((b, i) => el("tr", { "data-code": b.code },
    el("td", {}, i + 1),
    el("td", {}, el("strong", {}, b.code), " ", b.label),
    el("td", {}, b.sectors.join(", ")),
    el("td", {}, Number(b.score).toFixed(2)),
    tensionCell(b),
    el("td", { class: "tension-col" }, b.combined == null ? "—" : Number(b.combined).toFixed(2)),
    el("td", { class: `label-${String(b.viability).replace(/\s+/g, "-")}` }, VIABILITY[b.viability] || b.viability || "—"),
    el("td", {}, el("button", { type: "button", onclick: () => openBridge(i), "aria-label": `Détail de la passerelle vers ${b.label}` }, "Détail"))));
  $("#bridges-table tbody").replaceChildren(...rows);
  $("#bridges-table").classList.toggle("with-basin", Boolean(state.basin));
  drawNetwork();
}

function drawNetwork() {
  const svg = $("#network"), ns = "http://www.w3.org/2000/svg", c = 210, r = 160;
  svg.replaceChildren();
  const node = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; };
  const shown = state.bridges.slice(0, 20);
  const max = Math.max(...shown.map((b) => b.score), 1e-9);
  shown.forEach((b, i) => {
    const angle = (2 * Math.PI * i) / Math.max(shown.length, 1) - Math.PI / 2;
    const x = c + r * Math.cos(angle), y = c + r * Math.sin(angle);
    svg.append(node("line", { x1: c, y1: c, x2: x, y2: y, stroke: "#0b4f9c", "stroke-opacity": 0.25 + 0.6 * (b.score / max), "stroke-width": 1 + 5 * (b.score / max) }));
    const dot = node("circle", { cx: x, cy: y, r: 9, fill: "#fff", stroke: "#0b4f9c", "stroke-width": 2 });
    const title = node("title", {}); title.textContent = `${b.code} ${b.label} (${Number(b.score).toFixed(2)})`;
    dot.append(title);
    svg.append(dot);
    const text = node("text", { x: x + (Math.cos(angle) >= 0 ? 12 : -12), y: y + 4, "font-size": 11, "text-anchor": Math.cos(angle) >= 0 ? "start" : "end", fill: "#1b1b1f" });
    text.textContent = b.code;
    svg.append(text);
  });
  svg.append(node("circle", { cx: c, cy: c, r: 16, fill: "#0b4f9c" }));
  const label = node("text", { x: c, y: c + 34, "font-size": 12, "text-anchor": "middle", "font-weight": 700, fill: "#1b1b1f" });
  label.textContent = state.occupation ? state.occupation.code : "";
  svg.append(label);
}

// ---- one bridge: held, close and missing skills, training plan --------------------------------
async function openBridge(index) {
  const bridge = state.bridges[index];
  document.querySelectorAll("#bridges-table tr.selected").forEach((tr) => tr.classList.remove("selected"));
  document.querySelector(`#bridges-table tbody tr:nth-child(${index + 1})`).classList.add("selected");
  $("#detail").hidden = false;
  $("#detail-title").textContent = `${state.occupation.code} → ${bridge.code} ${bridge.label}`;
  $("#detail-meta").textContent = `Score de passerelle ${Number(bridge.score).toFixed(2)}${bridge.viability ? " · " + (VIABILITY[bridge.viability] || bridge.viability) : ""}`;
  const shared = bridge.raw.shared || bridge.raw.shared_skills || [];
  const close = bridge.raw.close || [];
  const missing = bridge.raw.missing || bridge.raw.missing_skills || [];
  $("#detail-shared").replaceChildren(...(shared.length ? coreFirst(shared).map((s) => viaItem(s, false)) : [el("li", {}, "Aucune")]));
  $("#detail-close").replaceChildren(...(close.length ? coreFirst(close).map((s) => viaItem(s, true)) : [el("li", {}, "Aucune")]));
  $("#detail-missing").replaceChildren(...(missing.length ? coreFirst(missing).map(skillItem) : [el("li", {}, "Aucune")]));
  $("#detail").focus();
  await loadPlan(bridge.code);
}

async function loadPlan(target) {
  const box = $("#detail-plan");
  box.replaceChildren(el("p", { class: "status" }, "Recherche de formations…"));
  const params = new URLSearchParams();
  if ($("#filter-basin").value) params.set("basin", $("#filter-basin").value);
  try {
    const body = await api(`/occupations/${state.occupation.code}/gaps/${target}?${params}`);
    const plan = body.plan || body.training_plan || {};
    const trainings = listOf(plan, "trainings", "steps");
    if (!trainings.length) { box.replaceChildren(el("p", {}, "Aucune formation du catalogue ne couvre cet écart.")); return; }
    const rows = trainings.map((t, i) => el("tr", {},
      el("td", {}, i + 1), el("td", {}, t.title || t.id), el("td", {}, t.organisation || ""),
      el("td", {}, t.hours ?? t.duration_hours ?? ""),
      el("td", {}, (t.covers || t.skills_covered || t.covered || [])
        .map((s) => (s.label || s) + (s.possibly_quick_to_acquire ? " (proche : peut-être rapide)" : "")).join(" ; "))));
    const residual = listOf(plan, "residual", "uncovered").concat(listOf(body, "residual"));
    box.replaceChildren(el("table", { class: "plan" },
      el("caption", { class: "visually-hidden" }, "Formations proposées, dans l'ordre"),
      el("thead", {}, el("tr", {}, ...["#", "Formation", "Organisme", "Heures", "Compétences couvertes"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)),
      residual.length ? el("p", {}, `Non couvert par le catalogue : ${residual.map((s) => s.label || s).join(" ; ")}`) : "");
    // prescriptions.js adds each row's session and its "Pré-inscrire" button
    document.dispatchEvent(new CustomEvent("passerelles:plan", { detail: {
      table: box.querySelector("table.plan"), trainings, source: state.occupation.code,
      target: body.target || { code: target, label: "" } } }));
  } catch (error) { box.replaceChildren(el("p", { class: "status" }, `Plan de formation indisponible : ${error.message}`)); }
}

function occupationText(occupation) {
  return typeof occupation === "object" && occupation ? `${occupation.code} ${occupation.label}` : String(occupation ?? "");
}

// ---- a seeker's offers -----------------------------------------------------------------------
async function loadSeekerOffers(event) {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  if (key) sessionStorage.setItem("passerelles-key", key);
  const id = $("#seeker-id").value.trim();
  setStatus("#seeker-status", "Recherche des offres…");
  try {
    const toward = $("#seeker-tension").checked ? "&toward_tension=true" : "";
    const offers = listOf(await api(`/seekers/${encodeURIComponent(id)}/offers?k=10${toward}`), "offers", "matches");
    $("#seeker-offers").replaceChildren(...offers.map((o) => {
      const offer = o.offer || o;
      const matched = (o.matched_skills || o.matched || []).map((s) => s.label || s);
      const missing = (o.missing_skills || o.missing || []).map((s) => s.label || s);
      return el("li", {},
        el("strong", {}, `${offer.occupation_label || offer.occupation || ""} — offre ${offer.id || o.offer_id}`),
        ` · score ${Number(o.score ?? 0).toFixed(2)}`,
        o.tension != null ? ` · tension du métier dans le bassin ${decimal(o.tension)} (classement ${Number(o.combined).toFixed(2)})` : "",
        o.distance_km != null ? ` · ${Number(o.distance_km).toFixed(0)} km` : "",
        o.bridge && o.bridge.from ? el("div", {}, o.bridge.same_occupation ? "Même métier que la personne"
          : `Passerelle : ${occupationText(o.bridge.from)} → ${occupationText(o.bridge.to)} (${Number(o.bridge.score ?? 0).toFixed(2)})`) : "",
        matched.length ? el("div", {}, `Compétences en commun : ${matched.join(" ; ")}`) : "",
        missing.length ? el("div", {}, `À acquérir : ${missing.join(" ; ")}`) : "");
    }));
    setStatus("#seeker-status", `${offers.length} offre(s)`);
  } catch (error) { setStatus("#seeker-status", error.message, true); }
}

// ---- wiring ----------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const input = $("#search");
  input.addEventListener("input", () => { clearTimeout(state.searchTimer); state.searchTimer = setTimeout(() => search(input.value), 120); });
  input.addEventListener("keydown", onSearchKey);
  input.addEventListener("blur", () => setTimeout(() => { state.suggestions = []; renderSuggestions(); }, 150));
  $("#bridge-filters").addEventListener("change", loadBridges);
  $("#seeker-form").addEventListener("submit", loadSeekerOffers);
  if (apiKey()) $("#api-key").value = apiKey();
  loadReferential();
});

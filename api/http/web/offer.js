// Passerelles: "Décrire une offre" (issue 21): paste an ad, confirm the occupation and the skills its
// text names, save it as an offer and see the candidate pool. Loaded after app.js, whose helpers it
// uses ($, el, setStatus, listOf, api). Every text from the API or the ad is inserted as text.
"use strict";

const offerState = { read: null };

const score2 = (x) => Number(x).toFixed(2).replace(".", ",");

// The ad read: one radio per proposed occupation (the best checked), one checkbox per skill found
// (all checked), each with the sentence of the ad that named it.
function renderOfferRead(result) {
  const occupations = (result.candidates || []).slice(0, 5);
  const chosen = result.best ? result.best.code : (occupations[0] && occupations[0].code);
  $("#offer-occupations").replaceChildren(el("legend", {}, "Métier proposé"),
    ...(occupations.length ? occupations.map((c, i) => {
      const input = el("input", { type: "radio", name: "offer-occupation", value: c.code, id: `offer-occ-${i}` });
      input.checked = c.code === chosen;
      return el("div", { class: "choice" }, input,
        el("label", { for: `offer-occ-${i}` }, el("span", { class: "code" }, c.code), ` ${c.label} `,
           el("span", { class: "weight" }, `score ${score2(c.score)}`),
           c.matched && c.matched !== c.label ? el("span", { class: "matched" }, `« ${c.matched} »`) : ""));
    }) : [el("p", {}, "Aucun métier proposé : précisez l'intitulé.")]));
  const skills = result.skills || [];
  $("#offer-skills").replaceChildren(el("legend", {}, "Compétences exigées (trouvées dans le texte)"),
    ...(skills.length ? skills.map((s, i) => {
      const input = el("input", { type: "checkbox", value: s.code, id: `offer-skill-${i}` });
      input.checked = true;
      return el("div", { class: "choice" }, input,
        el("label", { for: `offer-skill-${i}` }, s.label, " ", el("span", { class: "weight" }, score2(s.score))),
        el("q", { class: "sentence" }, s.sentence));
    }) : [el("p", {}, "Aucune compétence du référentiel n'est nommée dans le texte.")]));
  $("#offer-proposal").hidden = false;
  const note = result.confident ? "" : " (aucune correspondance sûre : à vérifier)";
  setStatus("#offer-status", `${occupations.length} métier(s) proposé(s)${note}, ${skills.length} compétence(s) trouvée(s)`);
}

async function readOffer(event) {
  event.preventDefault();
  const title = $("#offer-ad-title").value.trim();
  if (!title) { setStatus("#offer-status", "Saisissez l'intitulé de l'annonce.", true); return; }
  setStatus("#offer-status", "Lecture de l'annonce…");
  $("#offer-candidates").replaceChildren();
  setStatus("#offer-pool-status", "");
  try {
    const body = await api("/normalise/offers", { method: "POST", body:
      { offers: [{ title, description: $("#offer-ad-text").value }], k: 5 } });
    offerState.read = body.results[0];
    renderOfferRead(offerState.read);
  } catch (error) { $("#offer-proposal").hidden = true; setStatus("#offer-status", error.message, true); }
}

// The confirmed occupation and skills, saved as an offer (PUT /offers/{id}: a counsellor or employer
// key; the offer is the key's employer's), then its consenting candidates (GET
// /offers/{id}/candidates?employer=), by pseudonym only.
async function offerPool(event) {
  event.preventDefault();
  const occupation = document.querySelector("input[name='offer-occupation']:checked");
  if (!occupation) { setStatus("#offer-pool-status", "Choisissez un métier.", true); return; }
  if (!apiKey()) {
    setStatus("#offer-pool-status", "Voir les candidats demande une clé d'accès conseiller ou employeur : saisissez-la "
      + "dans la section « Offres pour une personne accompagnée ».", true);
    return;
  }
  sessionStorage.setItem("passerelles-key", apiKey());
  const id = $("#offer-id").value.trim();
  const must = [...document.querySelectorAll("#offer-skills input[type=checkbox]:checked")].map((i) => i.value);
  const record = { id, occupation: occupation.value, must, desired: [] };
  if ($("#offer-basin").value) record.basin = $("#offer-basin").value;
  setStatus("#offer-pool-status", "Enregistrement de l'offre et recherche des candidats…");
  try {
    const saved = await api(`/offers/${encodeURIComponent(id)}`, { method: "PUT", body: record });
    // offer ids are per employer: the candidates of the offer just saved, named by its employer
    // (an employer key's own; none for a counsellor's offer), never another employer's of this id
    const employer = encodeURIComponent((saved && saved.employer) || "");
    const body = await api(`/offers/${encodeURIComponent(id)}/candidates?k=10&employer=${employer}`);
    const hits = listOf(body, "candidates");
    $("#offer-candidates").replaceChildren(...hits.map((h) => {
      const who = h.candidate || {};
      const matched = (h.matched || []).map((s) => s.label || s.code);
      const missing = (h.missing || []).map((s) => s.label || s.code);
      return el("li", {},
        el("strong", {}, `${who.pseudonym || "?"}`), ` · score ${score2(h.score ?? 0)}`,
        who.occupation ? ` · métier ${who.occupation}` : "",
        h.distance_km != null ? ` · ${Number(h.distance_km).toFixed(0)} km` : "",
        h.bridge && h.bridge.from && !h.bridge.same_occupation
          ? el("div", {}, `Passerelle : ${h.bridge.from.code} ${h.bridge.from.label} → ${h.bridge.to.code} (${score2(h.bridge.score ?? 0)})`) : "",
        matched.length ? el("div", {}, `Compétences en commun : ${matched.join(" ; ")}`) : "",
        missing.length ? el("div", {}, `À acquérir : ${missing.join(" ; ")}`) : "");
    }));
    setStatus("#offer-pool-status", `Offre ${id} enregistrée : ${hits.length} candidat(s) ayant consenti à apparaître`);
  } catch (error) {
    const why = error.status === 401 || error.status === 403 ? " (clé conseiller ou employeur requise)" : "";
    setStatus("#offer-pool-status", error.message + why, true);
  }
}

async function loadOfferBasins() {
  try {
    const body = await api("/basins");
    for (const basin of listOf(body, "basins")) {
      $("#offer-basin").append(el("option", { value: basin.id }, `${basin.name} (${basin.region || basin.id})`));
    }
  } catch (error) { $("#offer-basin").closest("label").hidden = true; }
}

document.addEventListener("DOMContentLoaded", () => {
  if (!$("#offer-form")) return;
  $("#offer-id").value = `annonce-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}`;
  $("#offer-form").addEventListener("submit", readOffer);
  $("#offer-proposal").addEventListener("submit", offerPool);
  loadOfferBasins();
});

// The pages' language and words (console, dashboard, report): served by every service that
// serves a page, from shared/labels.py, with the catalogue at /v1/labels. The language is
// ?lang=, else the last one chosen, else Simplified Chinese.
"use strict";
const PAGE_LANGS = ["zh", "en"];
let LABELS = { page: {} };

function pageLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  const lang = asked || localStorage.getItem("lang") || "zh";
  return PAGE_LANGS.includes(lang) ? lang : "zh";
}

// A page text (`page` vocabulary), filled in: text("of", {part: 1, whole: 3}).
function text(key, values = {}) {
  const template = LABELS.page[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// A value in people's words: word("alarm_kind", "fire"); the key itself when unknown.
function word(vocabulary, key) {
  return (LABELS[vocabulary] || {})[key] ?? key;
}

// Load the catalogue and write it into [data-text] and [data-placeholder] elements.
async function loadLabels(lang) {
  const response = await fetch("/v1/labels?lang=" + lang);
  if (response.status !== 200) throw new Error("labels: " + response.status);
  LABELS = await response.json();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = text(node.dataset.text);
  for (const node of document.querySelectorAll("[data-placeholder]")) node.placeholder = text(node.dataset.placeholder);
  return LABELS;
}

// A <select> of the languages; choosing one reloads the page in it.
function languageChoice(select, lang) {
  select.replaceChildren(...PAGE_LANGS.map(code => new Option(code === "zh" ? "中文" : "English", code)));
  select.value = lang;
  select.onchange = () => {
    localStorage.setItem("lang", select.value);
    const url = new URL(location.href);
    url.searchParams.set("lang", select.value);
    location.assign(url);
  };
}

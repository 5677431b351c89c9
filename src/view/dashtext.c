/* dashtext — the fixed text of the dashboard's pages: the words in French and in English, the
 * dashboard's style rules and the index's script (see dash_int.h). */
#include "view/dash_int.h"

/* ---- words ---- */

static const struct words fr = {
    .lang = "fr",
    .comma = true,
    .title = "vigie — disponibilité et rapidité des démarches en ligne",
    .intro = "Chaque démarche vérifiée par vigie : son état au dernier contrôle, sa disponibilité "
             "et son temps de réponse, notés selon le critère de l’Observatoire.",
    .heading = "Démarches",
    .caption = "État, disponibilité et temps de réponse de chaque démarche (par défaut, les plus "
               "mauvaises en premier)",
    .skip = "Aller au tableau des démarches",
    .generated = "Page générée le",
    .js_off = "Sans JavaScript, le tableau est complet, trié du plus mauvais au meilleur.",
    .col = {"Démarche", "Groupe", "État", "Dispo. 24 h", "Dispo. 7 j", "Dispo. 3 mois",
            "Médiane 24 h", "p95 24 h", "Médiane 3 mois"},
    .state = {"en panne", "lent", "non vérifié", "pas de données", "en service"},
    .cls = {"sans donnée", "bon", "moyen", "mauvais"},
    .period = {"jour", "semaine", "mois", "trimestre", "année"},
    .win = {"24 heures", "7 jours", "3 mois (92 jours)"},
    .overview = "Vue d’ensemble",
    .overview_alt = "Nombre de démarches en service, lentes et en panne au cours de la journée",
    .groups = "Groupes",
    .group = "Groupe",
    .probes = "Démarches",
    .graphs = "Graphiques",
    .other_periods = "Autres périodes :",
    .report = "Rapport du critère de l’Observatoire (3 derniers mois)",
    .filter_group = "Groupe",
    .filter_state = "État",
    .all = "Tous",
    .worst_first = "Plus mauvais en premier",
    .shown = "démarches affichées sur",
    .sorted_by = "Trier par",
    .legend = "Lecture",
    .legend_avail = "Disponibilité : bon ≥ 99,9 %, moyen de 98,5 % à 99,9 %, mauvais &lt; 98,5 %.",
    .legend_time =
        "Temps de réponse (médiane des contrôles réussis) : bon &lt; 400 ms, moyen de 400 "
        "à 800 ms, mauvais ≥ 800 ms.",
    .legend_state = "État : résultat du dernier contrôle ; « non vérifié » quand aucun contrôle "
                    "récent n’est enregistré.",
    .no_value = "pas de donnée",
    .back = "Retour au tableau de bord",
    .url = "Adresse",
    .id = "Identifiant",
    .jdma = "Démarches de l’Observatoire (JDMA)",
    .interval = "Intervalle entre deux contrôles",
    .slow = "Seuil de lenteur",
    .last_check = "Dernier contrôle :",
    .never = "aucun",
    .summary = "Résumé",
    .window = "Période",
    .availability = "Disponibilité",
    .median = "Médiane",
    .p95 = "95ᵉ centile",
    .checks = "Contrôles comptés",
    .under = "Réussis en moins de",
    .latency = "Temps de réponse",
    .avail_graph = "Disponibilité",
    .alt_latency = "Temps de réponse par phase, médiane et dispersion, période :",
    .alt_avail = "Disponibilité par pas et disponibilité glissante, période :",
    .errors = "Dernières erreurs",
    .no_errors = "Aucune erreur enregistrée depuis le démarrage de vigie.",
    .errors_rrd = "Les fichiers RRD ne gardent pas les messages d’erreur : ils s’affichent ici "
                  "quand la page est produite par le démon (vigie run).",
    .when = "Date",
    .outcome = "Type",
    .message = "Message",
    .svg = "SVG",
    .unreadable = "Les fichiers RRD de cette démarche n’ont pas pu être lus :",
};

static const struct words en = {
    .lang = "en",
    .title = "vigie — availability and speed of online procedures",
    .intro = "Every procedure vigie checks: its state at the last check, its availability and "
             "response time, rated by the Observatory’s criterion.",
    .heading = "Procedures",
    .caption = "State, availability and response time of every procedure (by default, worst "
               "first)",
    .skip = "Skip to the table of procedures",
    .generated = "Generated on",
    .js_off = "Without JavaScript the table is complete, sorted worst first.",
    .col = {"Procedure", "Group", "State", "Avail. 24 h", "Avail. 7 d", "Avail. 3 months",
            "Median 24 h", "p95 24 h", "Median 3 months"},
    .state = {"down", "slow", "not checked", "no data", "up"},
    .cls = {"no data", "good", "fair", "poor"},
    .period = {"day", "week", "month", "quarter", "year"},
    .win = {"24 hours", "7 days", "3 months (92 days)"},
    .overview = "Overview",
    .overview_alt = "Number of procedures up, slow and down over the day",
    .groups = "Groups",
    .group = "Group",
    .probes = "Procedures",
    .graphs = "Graphs",
    .other_periods = "Other periods:",
    .report = "The observatory's criterion report (last 3 months)",
    .filter_group = "Group",
    .filter_state = "State",
    .all = "All",
    .worst_first = "Worst first",
    .shown = "procedures shown out of",
    .sorted_by = "Sort by",
    .legend = "How to read",
    .legend_avail = "Availability: good ≥ 99.9%, fair 98.5% to 99.9%, poor &lt; 98.5%.",
    .legend_time = "Response time (median of successful checks): good &lt; 400 ms, fair 400 to "
                   "800 ms, poor ≥ 800 ms.",
    .legend_state = "State: the outcome of the last check; “not checked” when no recent check "
                    "is recorded.",
    .no_value = "no data",
    .back = "Back to the dashboard",
    .url = "URL",
    .id = "Id",
    .jdma = "Observatory procedures (JDMA)",
    .interval = "Interval between checks",
    .slow = "Slow threshold",
    .last_check = "Last check:",
    .never = "none",
    .summary = "Summary",
    .window = "Window",
    .availability = "Availability",
    .median = "Median",
    .p95 = "95th percentile",
    .checks = "Checks counted",
    .under = "Succeeded under",
    .latency = "Response time",
    .avail_graph = "Availability",
    .alt_latency = "Response time by phase, median and spread, period:",
    .alt_avail = "Availability per step and rolling availability, period:",
    .errors = "Last errors",
    .no_errors = "No error recorded since vigie started.",
    .errors_rrd = "The RRD files keep no error messages: they show here when the page is made by "
                  "the daemon (vigie run).",
    .when = "Date",
    .outcome = "Kind",
    .message = "Message",
    .svg = "SVG",
    .unreadable = "The RRD files of this procedure could not be read:",
};

const struct words *dash_words(enum lang lang)
{
    return lang == LANG_EN ? &en : &fr;
}

/* ---- style ---- */

/* The dashboard's own rules, after the shared sheet (base/html.c). */
const char dash_css[] =
    "thead th button{font:inherit;font-weight:bold;background:none;border:0;padding:0;"
    "cursor:pointer;color:#1a1a1a;text-align:left}"
    "thead th[aria-sort=ascending] button::after{content:' \\25B2'}"
    "thead th[aria-sort=descending] button::after{content:' \\25BC'}"
    "tbody th{font-weight:normal;min-width:14em}"
    "td.grp{min-width:11em}"
    ".skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:#fff;"
    "padding:.3rem}"
    ".state{display:inline-block;padding:0 .4em;border:1px solid;border-radius:.25em;"
    "font-weight:bold;white-space:nowrap}"
    "tr.st-down th{border-left:4px solid #b00000}tr.st-slow th{border-left:4px solid #a07000}"
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);"
    "white-space:nowrap}"
    "#filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;margin:.5rem 0}"
    "#filters label{display:flex;flex-direction:column;font-size:.85rem}"
    "#filters select,#filters button{font:inherit;padding:.2rem}"
    ".graphs{display:grid;grid-template-columns:repeat(auto-fit,minmax(30rem,1fr));gap:1rem}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}"
    "dl.facts dt{font-weight:bold}dl.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}"
    "ul.inline{list-style:none;padding:0;margin:0;display:inline}"
    "ul.inline li{display:inline}ul.inline li+li::before{content:' · '}";

/* ---- script ---- */

/* The script: sorting by column (buttons added to the headers), filters by group and state, the
 * state kept in the fragment (#group=…&state=…&sort=col&dir=asc|desc) so a view can be linked. */
const char dash_script[] =
    "(function(){'use strict';"
    "var t=document.getElementById('probes');if(!t)return;"
    "var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows),"
    "hs=t.tHead.rows[0].cells,fg=document.getElementById('f-group'),"
    "fs=document.getElementById('f-state'),cnt=document.getElementById('count'),"
    "worst=document.getElementById('worst'),col=-1,dir=1;"
    "document.getElementById('filters').hidden=false;"
    "function val(r,i){var c=r.cells[i],v=c.getAttribute('data-v');"
    "if(v===null)return c.textContent.trim().toLowerCase();return v===''?null:parseFloat(v);}"
    "function order(){rows.sort(function(a,b){if(col<0)return a.dataset.rank-b.dataset.rank;"
    "var x=val(a,col),y=val(b,col);if(x===null||y===null){if(x===y)return "
    "a.dataset.rank-b.dataset.rank;return x===null?1:-1;}"
    "var c=typeof x==='number'?x-y:x.localeCompare(y);"
    "return c?c*dir:a.dataset.rank-b.dataset.rank;});"
    "rows.forEach(function(r){tb.appendChild(r);});"
    "for(var i=0;i<hs.length;i++){if(i===col)hs[i].setAttribute('aria-sort',dir>0?'ascending':"
    "'descending');else hs[i].removeAttribute('aria-sort');}}"
    "function filter(){var n=0;rows.forEach(function(r){var ok=(!fg.value||"
    "r.dataset.group===fg.value)&&(!fs.value||r.dataset.state===fs.value);r.hidden=!ok;"
    "if(ok)n++;});cnt.textContent=n+' '+cnt.dataset.of+' '+rows.length;}"
    "function save(){var p=[];if(fg.value)p.push('group='+encodeURIComponent(fg.value));"
    "if(fs.value)p.push('state='+fs.value);if(col>=0)p.push('sort='+hs[col].dataset.key+"
    "'&dir='+(dir>0?'asc':'desc'));var h=p.length?'#'+p.join('&'):'';"
    "if(h!==location.hash)try{history.replaceState(null,'',h||location.pathname);}catch(e){}}"
    "function load(ev){if(ev&&location.hash.indexOf('=')<0)return;var "
    "q={};location.hash.replace(/^#/,'').split('&').forEach(function(kv){"
    "var i=kv.indexOf('=');if(i>0)try{q[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1));}"
    "catch(e){}});fg.value=q.group||'';if(fg.value!==(q.group||''))fg.value='';"
    "fs.value=q.state||'';if(fs.value!==(q.state||''))fs.value='';col=-1;dir=1;"
    "for(var i=0;i<hs.length;i++)if(hs[i].dataset.key===q.sort){col=i;"
    "dir=q.dir==='desc'?-1:1;}order();filter();}"
    "Array.prototype.forEach.call(hs,function(th,i){var b=document.createElement('button');"
    "b.type='button';b.textContent=th.textContent;th.textContent='';th.appendChild(b);"
    "b.addEventListener('click',function(){if(col===i)dir=-dir;else{col=i;dir=1;}"
    "order();save();});});"
    "fg.addEventListener('change',function(){filter();save();});"
    "fs.addEventListener('change',function(){filter();save();});"
    "worst.addEventListener('click',function(){col=-1;dir=1;order();save();});"
    "window.addEventListener('hashchange',load);load();})();";

#!/usr/bin/env python3
"""Regenerate probes.d/*.yaml from the observatoire « Vos démarches essentielles » data.

Documentation / regeneration tool only: never run by the build or by CI.

Usage:
    python3 docs/tools/gen-probes.py [LATEST_CSV] [OUT_DIR]

Defaults: /work/shared/data/observatoire_vde_dashlord_updown_latest.csv and probes.d
(relative to the repository root). It needs only the Python 3 standard library.

Input: the CSV with one row per démarche (columns jdma_id,url,...). Output: one probe per
distinct URL, carrying the sorted list of the jdma ids that use it, written into one YAML
file per administration (see FILES and HOSTS below). Every *.yaml already in OUT_DIR that
this script would not write is reported, not deleted.

Probe ids name the RRD files, so they must never change once shipped. They are derived
from the URL only (never from row order):

    id = <host prefix>[-<path slug>]

  - host prefix: the HOSTS table below (one short, readable prefix per host);
  - path slug: SLUG_OVERRIDES if the URL is listed there; otherwise a few hosts take a
    query parameter (ameli: _pageLabel, MSA: codeServiceFct); otherwise the last
    meaningful segment of the path or of the fragment route (#/...), ignoring
    NOISE segments and file extensions; nothing left means no slug (the host's entry page);
  - the slug is lowercased, every run of characters outside [a-z0-9] becomes "-", and the
    whole id is cut at a "-" boundary to at most MAX_ID characters.

A new URL therefore gets a new id and never renames an existing one, as long as the tables
are only extended. The script fails if two URLs would get the same id.
"""

import csv
import os
import re
import sys
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

MAX_ID = 48
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

# file stem -> (comment line, group)
FILES = {
    "agriculture": ("Ministère de l'Agriculture: téléservices agricoles (Telepac, aléas naturels).",
                    "Ministère de l'Agriculture"),
    "armees": ("Ministère des Armées and its social operators (SGA, IGESA, ONaCVG).",
               "Ministère des Armées"),
    "assurance-maladie": ("Assurance Maladie (CNAM): ameli.fr compte assuré and Mon espace santé.",
                          "Assurance Maladie"),
    "autres": ("Rare hosts that fit no other file (culture, sport, associations, INSEE, "
               "independent authorities…).", "Autres services"),
    "caf": ("Caisses d'allocations familiales (CNAF): caf.fr and its login service.",
            "Caisse d'allocations familiales (CAF)"),
    "douane": ("Douane (DGDDI): services en ligne on douane.gouv.fr.",
               "Douane (DGDDI)"),
    "economie": ("Ministère de l'Économie et des Finances, outside DGFiP and douane: "
                 "Chorus Pro, INPI, SignalConso.",
                 "Économie et Finances (Chorus Pro, INPI, DGCCRF)"),
    "education": ("Ministère de l'Éducation nationale: téléservices, examens et concours, "
                  "diplômes, CNED.", "Éducation nationale"),
    "emploi": ("France Travail and ministère du Travail: emploi, formation, droit du travail.",
               "Travail et emploi (France Travail, ministère du Travail)"),
    "enseignement-superieur": ("Enseignement supérieur et vie étudiante: Parcoursup, Mon Master, "
                               "CVEC, Crous.", "Enseignement supérieur et vie étudiante"),
    "europe-affaires-etrangeres": ("Ministère de l'Europe et des Affaires étrangères: visas, "
                                   "Français de l'étranger, études en France.",
                                   "Ministère de l'Europe et des Affaires étrangères"),
    "impots": ("DGFiP: impots.gouv.fr (espace particulier, timbres fiscaux) and cadastre.gouv.fr.",
               "DGFiP (impots.gouv.fr)"),
    "interieur": ("Ministère de l'Intérieur: ANTS (titres), étrangers en France, armes, "
                  "procurations, plaintes et signalements.", "Ministère de l'Intérieur"),
    "justice": ("Ministère de la Justice: casier judiciaire, aide juridictionnelle, justice.fr, "
                "administration pénitentiaire.", "Ministère de la Justice"),
    "logement": ("Logement, énergie et transition écologique: logement social, Anah, "
                 "MaPrimeRénov', chèque énergie, Crit'Air.",
                 "Logement, énergie et transition écologique"),
    "msa": ("Mutualité sociale agricole: services of the MSA private space (monespaceprive.msa.fr).",
            "Mutualité sociale agricole (MSA)"),
    "numerique": ("DINUM: Démarches simplifiées / demarche.numerique.gouv.fr forms and the "
                  "observatoire itself.", "DINUM (Démarches simplifiées, observatoire)"),
    "retraite": ("Retraite: Assurance retraite (CNAV) and Info Retraite (GIP Union Retraite).",
                 "Retraite (Assurance retraite, Info Retraite)"),
    "securite-routiere": ("Sécurité routière and ANTAI (ministère de l'Intérieur): permis à points, "
                          "examen du permis, amendes.", "Sécurité routière et ANTAI"),
    "service-public": ("Service-Public.gouv.fr and other DILA services (Journal officiel).",
                       "Service-Public.gouv.fr (DILA)"),
    "solidarites": ("Solidarités, autonomie et santé: Mes droits sociaux, CNSA, Inserm, "
                    "Agence de la biomédecine.", "Solidarités, autonomie et santé"),
    "urssaf": ("Urssaf: urssaf.fr, auto-entrepreneur, Cesu, Pajemploi, DUE, TFE, artistes-auteurs.",
               "Urssaf"),
}

# host -> (id prefix, label used in names, file stem)
HOSTS = {
    # agriculture
    "ecoagri.agriculture.gouv.fr": ("ecoagri", "ecoagri.agriculture.gouv.fr", "agriculture"),
    "www2.telepac.agriculture.gouv.fr": ("telepac", "Telepac", "agriculture"),
    # armées
    "presaje.sga.defense.gouv.fr": ("presaje", "presaje.sga.defense.gouv.fr", "armees"),
    "www.servicehistorique.sga.defense.gouv.fr": ("servicehistorique",
                                                  "Service historique de la Défense", "armees"),
    "www.igesa.fr": ("igesa", "igesa.fr", "armees"),
    "www.onac-vg.fr": ("onac-vg", "onac-vg.fr", "armees"),
    # assurance maladie
    "assure.ameli.fr": ("ameli-assure", "ameli.fr", "assurance-maladie"),
    "www.monespacesante.fr": ("monespacesante", "Mon espace santé", "assurance-maladie"),
    # autres
    "choisirleservicepublic.gouv.fr": ("choisirleservicepublic", "choisirleservicepublic.gouv.fr",
                                       "autres"),
    "formulaire.defenseurdesdroits.fr": ("defenseurdesdroits", "Défenseur des droits", "autres"),
    "lecompteasso.associations.gouv.fr": ("lecompteasso", "Le Compte Asso", "autres"),
    "passculture.app": ("passculture", "pass Culture", "autres"),
    "www.arcom.fr": ("arcom", "arcom.fr", "autres"),
    "www.carte-familles-nombreuses.gouv.fr": ("carte-familles-nombreuses",
                                              "carte-familles-nombreuses.gouv.fr", "autres"),
    "www.le-recensement-et-moi.fr": ("recensement", "le-recensement-et-moi.fr", "autres"),
    "www.pass.sports.gouv.fr": ("pass-sport", "pass.sports.gouv.fr", "autres"),
    # caf
    "connect.caf.fr": ("caf-connect", "caf.fr", "caf"),
    "wwwd.caf.fr": ("caf", "caf.fr", "caf"),
    # douane
    "www.douane.gouv.fr": ("douane", "douane.gouv.fr", "douane"),
    # économie
    "cpro.chorus-pro.gouv.fr": ("chorus-pro", "Chorus Pro", "economie"),
    "data.inpi.fr": ("inpi-data", "data.inpi.fr", "economie"),
    "procedures.inpi.fr": ("inpi-procedures", "procedures.inpi.fr", "economie"),
    "signal.conso.gouv.fr": ("signalconso", "SignalConso", "economie"),
    # éducation
    "candidat.examens-concours.gouv.fr": ("examens-concours", "examens-concours.gouv.fr",
                                          "education"),
    "diplome.gouv.fr": ("diplome", "diplome.gouv.fr", "education"),
    "teleservices.education.gouv.fr": ("education-teleservices", "teleservices.education.gouv.fr",
                                       "education"),
    "www.cned.fr": ("cned", "cned.fr", "education"),
    # emploi
    "activitepartielle.emploi.gouv.fr": ("activitepartielle", "activitepartielle.emploi.gouv.fr",
                                         "emploi"),
    "candidat.francetravail.fr": ("francetravail-candidat", "candidat.francetravail.fr", "emploi"),
    "code.travail.gouv.fr": ("code-travail", "code.travail.gouv.fr", "emploi"),
    "entreprise.francetravail.fr": ("francetravail-entreprise", "entreprise.francetravail.fr",
                                    "emploi"),
    "mes-aides.1jeune1solution.beta.gouv.fr": ("mes-aides-1jeune1solution", "1jeune1solution", "emploi"),
    "sylae.asp.gouv.fr": ("sylae", "SYLAé (ASP)", "emploi"),
    "www.guso.fr": ("guso", "guso.fr", "emploi"),
    "www.moncompteformation.gouv.fr": ("moncompteformation", "moncompteformation.gouv.fr",
                                       "emploi"),
    "www.sipsi.travail.gouv.fr": ("sipsi", "SIPSI (travail.gouv.fr)", "emploi"),
    "www.telerc.travail.gouv.fr": ("telerc", "TéléRC (travail.gouv.fr)", "emploi"),
    # enseignement supérieur
    "candidature.monmaster.gouv.fr": ("monmaster", "monmaster.gouv.fr", "enseignement-superieur"),
    "cvec.etudiant.gouv.fr": ("cvec", "cvec.etudiant.gouv.fr", "enseignement-superieur"),
    "trouverunlogement.lescrous.fr": ("crous-trouverunlogement", "trouverunlogement.lescrous.fr",
                                      "enseignement-superieur"),
    "www.messervices.etudiant.gouv.fr": ("messervices-etudiant", "messervices.etudiant.gouv.fr",
                                         "enseignement-superieur"),
    "www.parcoursup.gouv.fr": ("parcoursup", "parcoursup.gouv.fr", "enseignement-superieur"),
    # Europe et affaires étrangères
    "application-form.france-visas.gouv.fr": ("france-visas-application-form", "France-Visas",
                                              "europe-affaires-etrangeres"),
    "fildariane.diplomatie.gouv.fr": ("fildariane", "Fil d'Ariane (diplomatie.gouv.fr)",
                                      "europe-affaires-etrangeres"),
    "france-visas.gouv.fr": ("france-visas", "France-Visas", "europe-affaires-etrangeres"),
    "pastel.diplomatie.gouv.fr": ("pastel-etudesenfrance", "Études en France (diplomatie.gouv.fr)",
                                  "europe-affaires-etrangeres"),
    "votefae.diplomatie.gouv.fr": ("votefae", "votefae.diplomatie.gouv.fr",
                                   "europe-affaires-etrangeres"),
    # impôts
    "cfspart-idp.impots.gouv.fr": ("impots-espace-particulier", "impots.gouv.fr", "impots"),
    "timbres.impots.gouv.fr": ("impots-timbres", "timbres.impots.gouv.fr", "impots"),
    "www.cadastre.gouv.fr": ("cadastre", "cadastre.gouv.fr", "impots"),
    "www.impots.gouv.fr": ("impots", "impots.gouv.fr", "impots"),
    # intérieur
    "administration-etrangers-en-france.interieur.gouv.fr": (
        "anef", "ANEF (administration-etrangers-en-france)", "interieur"),
    "etrangers-en-france.interieur.gouv.fr": ("etrangers-en-france",
                                              "etrangers-en-france.interieur.gouv.fr", "interieur"),
    "histovec.interieur.gouv.fr": ("histovec", "HistoVec", "interieur"),
    "immatriculation.ants.gouv.fr": ("ants-immatriculation", "immatriculation.ants.gouv.fr",
                                     "interieur"),
    "internet-signalement.gouv.fr": ("internet-signalement", "internet-signalement.gouv.fr",
                                     "interieur"),
    "maprocuration.gouv.fr": ("maprocuration", "maprocuration.gouv.fr", "interieur"),
    "passeport.ants.gouv.fr": ("ants-passeport", "passeport.ants.gouv.fr", "interieur"),
    "permisdeconduire.ants.gouv.fr": ("ants-permis", "permisdeconduire.ants.gouv.fr", "interieur"),
    "plainte-en-ligne.masecurite.interieur.gouv.fr": ("plainte-en-ligne",
                                                      "plainte-en-ligne.masecurite.interieur.gouv.fr",
                                                      "interieur"),
    "sia.detenteurs.interieur.gouv.fr": ("sia-detenteurs", "SIA (armes)", "interieur"),
    "sia.registres.interieur.gouv.fr": ("sia-registres", "SIA (armes)", "interieur"),
    "siv.interieur.gouv.fr": ("siv", "SIV (interieur.gouv.fr)", "interieur"),
    # justice
    "casier-judiciaire.justice.gouv.fr": ("casier-judiciaire", "casier-judiciaire.justice.gouv.fr",
                                          "justice"),
    "www.aidejuridictionnelle.justice.fr": ("aide-juridictionnelle", "aidejuridictionnelle.justice.fr",
                                            "justice"),
    "www.justice.fr": ("justice-fr", "justice.fr", "justice"),
    "www.penitentiaire.justice.fr": ("penitentiaire", "penitentiaire.justice.fr", "justice"),
    # logement
    "chequeenergie.gouv.fr": ("chequeenergie", "chequeenergie.gouv.fr", "logement"),
    "guichet.chequeenergie.gouv.fr": ("chequeenergie-guichet", "chequeenergie.gouv.fr", "logement"),
    "monprojet.anah.gouv.fr": ("anah-monprojet", "monprojet.anah.gouv.fr", "logement"),
    "signal-logement.beta.gouv.fr": ("signal-logement", "Signal Logement", "logement"),
    "www.certificat-air.gouv.fr": ("certificat-air", "certificat-air.gouv.fr (Crit'Air)",
                                   "logement"),
    "www.demande-logement-social.gouv.fr": ("demande-logement-social",
                                            "demande-logement-social.gouv.fr", "logement"),
    "www.dossierfacile.logement.gouv.fr": ("dossierfacile", "DossierFacile", "logement"),
    "www.maprimerenov.gouv.fr": ("maprimerenov", "maprimerenov.gouv.fr", "logement"),
    "www.primealaconversion.gouv.fr": ("primealaconversion", "primealaconversion.gouv.fr",
                                       "logement"),
    # MSA
    "monespaceprive.msa.fr": ("msa", "msa.fr", "msa"),
    # numérique (DINUM)
    "demarche.numerique.gouv.fr": ("demarche-numerique", "demarche.numerique.gouv.fr",
                                   "numerique"),
    "observatoire.numerique.gouv.fr": ("observatoire-numerique", "observatoire.numerique.gouv.fr",
                                       "numerique"),
    "www.demarches-simplifiees.fr": ("demarches-simplifiees", "demarches-simplifiees.fr",
                                     "numerique"),
    # retraite
    "www.info-retraite.fr": ("info-retraite", "info-retraite.fr", "retraite"),
    "www.lassuranceretraite.fr": ("assurance-retraite", "lassuranceretraite.fr", "retraite"),
    # sécurité routière / ANTAI
    "mespoints.permisdeconduire.gouv.fr": ("mespoints-permis", "mespoints.permisdeconduire.gouv.fr",
                                           "securite-routiere"),
    "www.amendes.gouv.fr": ("amendes", "amendes.gouv.fr", "securite-routiere"),
    "www.antai.gouv.fr": ("antai", "antai.gouv.fr", "securite-routiere"),
    "www.securite-routiere.gouv.fr": ("securite-routiere", "securite-routiere.gouv.fr",
                                      "securite-routiere"),
    "www.usagers.antai.gouv.fr": ("antai-usagers", "usagers.antai.gouv.fr", "securite-routiere"),
    # service-public / DILA
    "associations-depot-comptes.journal-officiel.gouv.fr": (
        "jo-associations-depot-comptes", "journal-officiel.gouv.fr", "service-public"),
    "www.inscriptionelectorale.service-public.fr": ("inscription-electorale",
                                                    "service-public.fr", "service-public"),
    "www.service-public.gouv.fr": ("service-public", "service-public.gouv.fr", "service-public"),
    # solidarités
    "demande-autonomie.gouv.fr": ("demande-autonomie", "demande-autonomie.gouv.fr", "solidarites"),
    "mdphenligne.cnsa.fr": ("mdphenligne", "MDPH en ligne (CNSA)", "solidarites"),
    "sic.certdc.inserm.fr": ("inserm-certdc", "CertDc (Inserm)", "solidarites"),
    "www.mesdroitssociaux.gouv.fr": ("mesdroitssociaux", "mesdroitssociaux.gouv.fr",
                                     "solidarites"),
    "www.registrenationaldesrefus.fr": ("registrenationaldesrefus", "registrenationaldesrefus.fr",
                                        "solidarites"),
    # urssaf
    "mon-entreprise.urssaf.fr": ("urssaf-mon-entreprise", "mon-entreprise.urssaf.fr", "urssaf"),
    "pajemploi.urssaf.fr": ("pajemploi", "pajemploi.urssaf.fr", "urssaf"),
    "www.artistes-auteurs.urssaf.fr": ("urssaf-artistes-auteurs", "artistes-auteurs.urssaf.fr",
                                       "urssaf"),
    "www.autoentrepreneur.urssaf.fr": ("urssaf-autoentrepreneur", "autoentrepreneur.urssaf.fr",
                                       "urssaf"),
    "www.cesu.urssaf.fr": ("cesu", "cesu.urssaf.fr", "urssaf"),
    "www.due.urssaf.fr": ("urssaf-due", "due.urssaf.fr", "urssaf"),
    "www.tfe.urssaf.fr": ("urssaf-tfe", "tfe.urssaf.fr", "urssaf"),
    "www.urssaf.fr": ("urssaf", "urssaf.fr", "urssaf"),
}

# Query parameter that names the page, for hosts whose path is always the same.
QUERY_SLUG = {
    "assure.ameli.fr": "_pageLabel",
    "monespaceprive.msa.fr": "codeServiceFct",
}

# Path / fragment segments that say nothing about the page.
NOISE = {
    "accueil", "index", "dist", "wps", "portal", "myportal", "caffr", "fr", "v2", "sec",
    "particuliers", "vosdroits", "commencer", "service-en-ligne", "portail", "portail-services",
    "portail-services-ihm", "outils", "simulateurs", "vos-simulateurs", "votre-simulateur",
    "demarches-en-ligne", "services-associes", "aidesetservices", "lesservicesenligne",
    "faireunedemandedeprestation", "demarches", "dyn", "public", "do", "code", "pages",
}

# Explicit slugs where the generic rule gives a poor or colliding result. Keys are exact URLs.
SLUG_OVERRIDES = {
    "https://assure.ameli.fr/PortailAS/appmanager/PortailAS/assure?_somtc=true#": "",
    "https://wwwd.caf.fr/wps/myportal/caffr/moncompte/mesressources#/accueil": "mesressources",
    "https://wwwd.caf.fr/wps/portal/caffr/aidesetservices/lesservicesenligne/"
    "faireunedemandedeprestation#/solidariteetactivite": "demande-solidarite-activite",
    "https://wwwd.caf.fr/wps/portal/caffr/aidesetservices/lesservicesenligne/"
    "faireunedemandedeprestation/demanderlaideaulogement": "demande-aide-logement",
    "https://wwwd.caf.fr/wps/portal/caffr/aidesetservices/lesservicesenligne/"
    "faireunedemandedeprestation/demanderlaprimedactivite/": "demande-prime-activite",
    "https://wwwd.caf.fr/wps/portal/caffr/simulateurpa/": "simulateur-prime-activite",
    "https://administration-etrangers-en-france.interieur.gouv.fr/particuliers/"
    "#/sejour/triage-demandeur": "sejour",
    "https://casier-judiciaire.justice.gouv.fr/mai-web-b3-presentation/pages/creation/"
    "orientation.xhtml?cid=1": "bulletin-3",
    "https://www.penitentiaire.justice.fr/authentification?returnUrl=%2F": "authentification",
    "https://www.lassuranceretraite.fr/portail-info/hors-menu/annexe/services-en-ligne/"
    "demander-une-aspa.html": "aspa",
    "https://www.lassuranceretraite.fr/portail-services-ihm/index.html"
    "#/sec/afficherIframe/CONSULT_MONTANT": "consult-montant",
    "https://www.lassuranceretraite.fr/portail-services-ihm/index.html"
    "#/sec/ouvrirService/AGEDEPART": "agedepart",
    "https://www.info-retraite.fr/portail-services/login": "login",
    "https://www.messervices.etudiant.gouv.fr/depotPVE//?idEtudiantPVE=3110718": "depot-pve",
    "https://www.mesdroitssociaux.gouv.fr/vos-simulateurs/#/rsa-pa/foyer": "simulateur-rsa-pa",
    "https://www.mesdroitssociaux.gouv.fr/votre-simulateur/aide-logement":
        "simulateur-aide-logement",
    "https://www.mesdroitssociaux.gouv.fr/votre-simulateur/allocation-adulte-handicape":
        "simulateur-aah",
    "https://www.mesdroitssociaux.gouv.fr/votre-simulateur/complementaire-sante-solidaire":
        "simulateur-css",
    "http://www.securite-routiere.gouv.fr/permis-de-conduire/resultats-du-permis-de-conduire"
    "#/step-connexion": "resultats-permis",
    "https://www.securite-routiere.gouv.fr/passer-son-permis-de-conduire/inscription-et-formation/"
    "reserver-en-ligne-sa-place-pour-le": "reserver-place-examen",
    "https://www.igesa.fr/e-social-des-armees/nos-offres-sociales/la-subvention-interministerielle-"
    "pour-le-sejour-de-mon-enfant-en-centre-de-loisirs-sans-hebergement": "subvention-alsh",
    "https://www.igesa.fr/e-social-des-armees/nos-offres-sociales/prestation-education":
        "prestation-education",
    "https://www.servicehistorique.sga.defense.gouv.fr/demarche/demande-de-documents-administratifs":
        "demande-documents",
    "https://permisdeconduire.ants.gouv.fr/demarches-en-ligne/deterioration-remplacement-du-permis-"
    "pliant-3-volets-ou-fin-de-validite": "remplacement-fin-validite",
    "https://permisdeconduire.ants.gouv.fr/demarches-en-ligne/reussite-a-l-examen-du-permis-de-"
    "conduire": "reussite-examen",
    "https://permisdeconduire.ants.gouv.fr/demarches-en-ligne/invalidation-ou-annulation-du-permis":
        "invalidation-annulation",
    "https://permisdeconduire.ants.gouv.fr/demarches-en-ligne/-changement-d-etat-civil":
        "changement-etat-civil",
    "https://passeport.ants.gouv.fr/Services-associes/Realiser-une-pre-demande-de-carte-nationale-"
    "d-identite-CNI": "pre-demande-cni",
    "https://passeport.ants.gouv.fr/Services-associes/Realiser-une-pre-demande-de-passeport":
        "pre-demande-passeport",
    "https://www.antai.gouv.fr/particulier/suivre-mon-dossier-infraction/": "suivre-dossier",
    "https://www.usagers.antai.gouv.fr/demarches/saisienumero?lang=fr": "saisie-numero",
    "https://www.douane.gouv.fr/service-en-ligne/contributions-indirectes-en-ligne-ciel2-tabacs":
        "ciel2-tabacs",
    "https://www.douane.gouv.fr/service-en-ligne/declaration-de-transit-douanier-delta-t":
        "delta-t",
    "https://www.douane.gouv.fr/service-en-ligne/declaration-en-douane-fret-traditionnel-delta-g":
        "delta-g",
    "https://www.douane.gouv.fr/service-en-ligne/declaration-europeenne-de-services-des": "des",
    "https://www.douane.gouv.fr/service-en-ligne/echanges-intra-ue-de-biens-debweb2-ex-deb":
        "debweb2",
    "https://www.douane.gouv.fr/service-en-ligne/gestion-de-bordereaux-de-vente-en-detaxe-pablo-i":
        "pablo",
    "https://www.demarches-simplifiees.fr/commencer/aide-projet-fonctionnement_creation-artistique-"
    "2024": "aide-creation-artistique-2024",
    "https://www.demarches-simplifiees.fr/commencer/aide-projet-fonctionnement_patrimoine-2024":
        "aide-patrimoine-2024",
    "https://www.arcom.fr/signaler-ou-alerter/programme-publicite": "signaler-programme-publicite",
    "https://formulaire.defenseurdesdroits.fr/code/afficher.php?ETAPE=accueil_2016": "formulaire",
    "https://cpro.chorus-pro.gouv.fr/cpp/demandeRemboursement?execution=e2s1":
        "demande-remboursement",
    "https://cpro.chorus-pro.gouv.fr/cpp/rechercheFacturesEmises?execution=e3s1":
        "factures-emises",
    "https://www.primealaconversion.gouv.fr/dboneco/accueil/access.html": "",
    "https://www.autoentrepreneur.urssaf.fr/portail/accueil.html": "",
    "https://www.tfe.urssaf.fr/portail/accueil/adherer.html": "adherer",
    "https://www.urssaf.fr/portail/home/utile-et-pratique/verification-attestation.html":
        "verification-attestation",
    "https://ecoagri.agriculture.gouv.fr/aleanat/": "aleanat",
    "https://www2.telepac.agriculture.gouv.fr/telepac/auth/accueil.action": "",
    "https://pastel.diplomatie.gouv.fr/etudesenfrance/dyn/public/authentification/login.html":
        "login",
    "https://fildariane.diplomatie.gouv.fr/fildariane-internet/accueil": "",
    "https://siv.interieur.gouv.fr/map-usg-ui/do/accueil_certificat": "certificat",
    "https://histovec.interieur.gouv.fr/histovec/accueil": "",
    "https://demande-autonomie.gouv.fr/?service=DUAPA&portail=3177&modeOuverture=onglet": "",
    "https://www.service-public.gouv.fr/simulateur/calcul/15646-01": "simulateur-15646-01",
    "https://sylae.asp.gouv.fr/portail-employeur/": "portail-employeur",
    "https://procedures.inpi.fr/?/": "",
    "https://diplome.gouv.fr/sanddiplome/verif": "verification",
    "https://associations-depot-comptes.journal-officiel.gouv.fr/depotdescomptes/index.html": "",
    "https://www.justice.fr/simulateurs/saisies-remunerations#details": "saisies-remunerations",
    "https://activitepartielle.emploi.gouv.fr/aparts/": "",
    "https://mespoints.permisdeconduire.gouv.fr/bienvenue": "",
    "https://www.artistes-auteurs.urssaf.fr/aa/": "",
    "https://etrangers-en-france.interieur.gouv.fr/vivre-en-france/le-regroupement-familial":
        "regroupement-familial",
    "https://guichet.chequeenergie.gouv.fr/guichetchq/verifier-mon-eligibilite": "eligibilite",
    "https://code.travail.gouv.fr/outils/indemnite-rupture-conventionnelle":
        "indemnite-rupture-conv",
}

# French labels for names, by id. Ids not listed get a label derived from their slug.
LABELS = {
    "ameli-assure": "compte assuré",
    "ameli-assure-accueil": "compte assuré, accueil",
    "ameli-assure-attestation-paiement-ij": "attestation de paiement des indemnités journalières",
    "ameli-assure-carte-euro-assu-maladie": "carte européenne d'assurance maladie",
    "ameli-assure-commande-vitale": "commande de carte Vitale",
    "ameli-assure-declarer-naissance": "déclaration de naissance",
    "ameli-assure-demander-cmuc": "demande de complémentaire santé solidaire (ex-CMU-C)",
    "ameli-assure-infosbancaires": "coordonnées bancaires",
    "ameli-assure-mod-adresse-postale": "changement d'adresse postale",
    "ameli-assure-pertevol-carte-vitale": "perte ou vol de carte Vitale",
    "caf": "accueil",
    "caf-connect-login": "connexion",
    "caf-mesressources": "mon compte, mes ressources",
    "caf-demande-solidarite-activite": "demande de prestation solidarité et activité",
    "caf-demande-aide-logement": "demande d'aide au logement",
    "caf-demande-prime-activite": "demande de prime d'activité",
    "caf-simulateur-prime-activite": "simulateur de prime d'activité",
    "anef-sejour": "séjour, orientation du demandeur",
    "casier-judiciaire-bulletin-3": "demande de bulletin n° 3",
    "assurance-retraite-aspa": "demande d'ASPA",
    "assurance-retraite-consult-montant": "consultation du montant de retraite",
    "assurance-retraite-agedepart": "âge de départ",
    "info-retraite-login": "connexion",
    "messervices-etudiant-depot-pve": "dépôt de pièces (PVE)",
    "mesdroitssociaux-simulateur-rsa-pa": "simulateur RSA / prime d'activité",
    "mesdroitssociaux-simulateur-aide-logement": "simulateur aide au logement",
    "mesdroitssociaux-simulateur-aah": "simulateur allocation aux adultes handicapés",
    "mesdroitssociaux-simulateur-css": "simulateur complémentaire santé solidaire",
    "securite-routiere-resultats-permis": "résultats du permis de conduire",
    "securite-routiere-reserver-place-examen": "réserver sa place à l'examen du permis",
    "igesa-subvention-alsh": "subvention séjour en centre de loisirs sans hébergement",
    "igesa-prestation-education": "prestation éducation",
    "servicehistorique-demande-documents": "demande de documents administratifs",
    "ants-permis": "accueil",
    "ants-permis-remplacement-fin-validite": "permis détérioré, ancien modèle ou fin de validité",
    "ants-permis-reussite-examen": "réussite à l'examen du permis",
    "ants-permis-invalidation-annulation": "invalidation ou annulation du permis",
    "ants-permis-changement-etat-civil": "changement d'état civil",
    "ants-passeport-pre-demande-cni": "pré-demande de carte nationale d'identité",
    "ants-passeport-pre-demande-passeport": "pré-demande de passeport",
    "antai-suivre-dossier": "suivre mon dossier d'infraction",
    "antai-usagers-saisie-numero": "saisie du numéro d'avis",
    "douane-ciel2-tabacs": "CIEL 2, contributions indirectes (tabacs)",
    "douane-delta-t": "DELTA T, transit douanier",
    "douane-delta-g": "DELTA G, dédouanement fret traditionnel",
    "douane-des": "déclaration européenne de services (DES)",
    "douane-debweb2": "échanges intra-UE de biens (DEBWEB2)",
    "douane-gamma2": "GAMMA 2",
    "douane-pablo": "détaxe (PABLO)",
    "chorus-pro-demande-remboursement": "demande de remboursement",
    "chorus-pro-factures-emises": "recherche de factures émises",
    "code-travail-indemnite-licenciement": "simulateur d'indemnité de licenciement",
    "code-travail-indemnite-rupture-conv": "simulateur d'indemnité de rupture conventionnelle",
    "justice-fr-pensions-alimentaire": "simulateur de pension alimentaire",
    "justice-fr-saisies-remunerations": "simulateur de saisie sur rémunération",
    "aide-juridictionnelle-simulateur": "simulateur",
    "penitentiaire-authentification": "connexion",
    "urssaf-tfe-adherer": "adhésion",
    "urssaf-verification-attestation": "vérification d'attestation",
    "urssaf-mon-entreprise-salaire-brut-net": "simulateur salaire brut / net",
    "urssaf-artistes-auteurs": "espace artistes-auteurs",
    "telepac": "accueil",
    "ecoagri-aleanat": "aléas naturels",
    "pastel-etudesenfrance-login": "connexion",
    "siv-certificat": "certificat",
    "diplome-verification": "vérification de diplôme",
    "inserm-certdc": "certificat de décès électronique",
    "sylae-portail-employeur": "portail employeur",
    "chequeenergie-paiement-en-ligne": "paiement en ligne",
    "chequeenergie-creation-de-compte": "création de compte",
    "chequeenergie-guichet-verifier-mon-eligibilite": "vérifier mon éligibilité",
    "france-visas-demande-de-visa": "demande de visa",
    "france-visas-application-form": "formulaire de demande",
    "pass-sport-test-eligibilite": "test d'éligibilité",
    "examens-concours-attestations": "attestations",
    "lecompteasso-login": "connexion",
    "onac-vg-demander-une-aide-financiere": "demander une aide financière",
    "onac-vg-login": "connexion",
    "internet-signalement-contenu": "signalement de contenu",
    "arcom-signaler-programme-publicite": "signaler un programme ou une publicité",
    "defenseurdesdroits-formulaire": "formulaire de saisine",
    "cned-compte": "compte",
    "signalconso-fr": "accueil",
    "service-public-ise": "outil ISE",
    "service-public-interrogation-fourriere": "interrogation fourrière",
    "service-public-simulateur-15646-01": "simulateur 15646-01",
    "impots-espace-particulier": "connexion à l'espace particulier",
    "impots-timbres": "timbres fiscaux",
    "francetravail-candidat": "espace candidat",
    "francetravail-entreprise": "espace entreprise",
    "inscription-electorale": "inscription sur les listes électorales",
    "jo-associations-depot-comptes": "dépôt des comptes des associations",
    "sia-detenteurs": "espace détenteurs",
    "sia-registres": "registres",
    "etrangers-en-france-regroupement-familial": "regroupement familial",
    "chequeenergie-guichet-eligibilite": "vérifier mon éligibilité",
}


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def path_slug(url):
    if url in SLUG_OVERRIDES:
        return SLUG_OVERRIDES[url]
    parts = urlsplit(url)
    key = QUERY_SLUG.get(parts.hostname)
    if key:
        values = parse_qs(parts.query).get(key)
        if not values:
            return ""
        value = values[0]
        if parts.hostname == "assure.ameli.fr":
            value = re.sub(r"^as_", "", value)
            value = re.sub(r"_page$", "", value)
        return slug(value)
    segments = [s for s in parts.path.split("/") if s]
    segments += [s for s in parts.fragment.split("?")[0].split("/") if s]
    for seg in reversed(segments):
        seg = re.sub(r"\.(html?|xhtml|php|action|jsp)$", "", seg, flags=re.I)
        s = slug(seg)
        if s and s not in NOISE:
            return s
    return ""


def make_id(prefix, ps):
    pid = prefix + ("-" + ps if ps else "")
    if len(pid) > MAX_ID:
        cut = pid[:MAX_ID + 1]
        pid = cut[:cut.rfind("-")] if "-" in cut[len(prefix):] else pid[:MAX_ID]
    return pid.strip("-")


def label_for(pid, prefix, ps, url):
    if pid in LABELS:
        return LABELS[pid]
    host = urlsplit(url).hostname
    if not ps:
        return "accueil"
    if host == "monespaceprive.msa.fr":
        code = parse_qs(urlsplit(url).query)["codeServiceFct"][0]
        return "service en ligne " + code
    if host == "www.service-public.gouv.fr" and re.fullmatch(r"r\d+", ps):
        return "fiche " + ps.upper()
    if host in ("demarche.numerique.gouv.fr", "www.demarches-simplifiees.fr"):
        # form slugs are opaque: show them verbatim rather than guess the procedure
        return "formulaire « " + urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] + " »"
    return ps.replace("-", " ")


def yq(s):
    """Double-quoted YAML scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    src = sys.argv[1] if len(sys.argv) > 1 else \
        "/work/shared/data/observatoire_vde_dashlord_updown_latest.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "probes.d")

    by_url = defaultdict(list)
    with open(src, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_url[row["url"]].append(int(row["jdma_id"]))

    files = defaultdict(list)
    seen = {}
    for url, ids in by_url.items():
        host = urlsplit(url).hostname
        if host not in HOSTS:
            sys.exit(f"gen-probes: no HOSTS entry for {host} ({url}); add one")
        prefix, shown, stem = HOSTS[host]
        ps = path_slug(url)
        pid = make_id(prefix, ps)
        if not ID_RE.match(pid):
            sys.exit(f"gen-probes: bad id {pid!r} for {url}")
        if pid in seen:
            sys.exit(f"gen-probes: id {pid} for both {seen[pid]} and {url}; add a SLUG_OVERRIDES entry")
        seen[pid] = url
        name = f"{shown} — {label_for(pid, prefix, ps, url)}"
        if len(ids) != len(set(ids)):
            sys.exit(f"gen-probes: duplicate jdma id for {url}")
        files[stem].append((pid, name, url, sorted(ids)))

    os.makedirs(out, exist_ok=True)
    for stem in sorted(files):
        comment, group = FILES[stem]
        lines = [f"# {comment}", f"group: {yq(group)}", "probes:"]
        for pid, name, url, ids in sorted(files[stem]):
            lines += [f"  - id: {pid}",
                      f"    name: {yq(name)}",
                      f"    url: {yq(url)}",
                      f"    jdma: [{', '.join(map(str, ids))}]"]
        with open(os.path.join(out, stem + ".yaml"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{stem}.yaml: {len(files[stem])} probes", file=sys.stderr)
    stale = sorted(set(n for n in os.listdir(out) if n.endswith(".yaml")) -
                   set(s + ".yaml" for s in files))
    for n in stale:
        print(f"gen-probes: {n} is not generated by this script (left in place)", file=sys.stderr)
    print(f"{sum(len(v) for v in files.values())} probes, "
          f"{sum(len(i) for v in files.values() for *_, i in v)} jdma ids, "
          f"{len(files)} files", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The labeler's rules, as data: mention patterns per label and NegEx-style context triggers.

Patterns are Python regular expressions matched case-insensitively against one sentence at a
time. Each rule was written from radiology usage (what a radiologist means by the phrase), then
checked against Open-i reports; docs/LABELER.md says which rules were added after the error
analysis and why.
"""
from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Fragments shared by the mention and trigger rules below.
# ---------------------------------------------------------------------------------------------
# Things that look like a lesion and are not one. A mention explained as one of them after it is
# negative when the explanation is plain ("nodular density, consistent with a nipple shadow") and
# uncertain when hedged ("…, likely a nipple shadow"); either may follow a comma.
_MIMIC = (r"(?:\w+ )?(?:nipple shadows?|nipples?|overlapp?ing (?:vessels|vascular (?:structures|shadows)|"
          r"structures|shadows|soft tissues?)|end[- ]on vessels?|vessels? (?:seen )?end[- ]on|"
          r"vascular (?:shadows?|structures?)|summation (?:shadows?|artifacts?|of (?:shadows|structures))|"
          r"superimpos\w+ (?:of )?(?:\w+ )?(?:structures|vessels|shadows)|artifacts?|skin folds?|"
          r"costochondral (?:calcifications?|junctions?|cartilage))\b")
_ARTICLE = r"(?:(?:due to|reflecting|representing|related to|from) )?(?:a |an |the |the patient's |bilateral )?"
_MIMIC_PLAIN = (r"(?:consistent with|compatible with|represents?|representing|due to|reflecting|"
                r"(?:is|are) (?:a|an|the)) " + _ARTICLE + _MIMIC)
_MIMIC_HEDGED = (r"(?:likely|probably|possibly|most likely|presumably|may represent|could represent|may be|could be|"
                 r"favou?red to (?:be|represent)) " + _ARTICLE + _MIMIC)

# Another study than this one: "the prior CT", "previous exam", "comparison radiographs".
_OTHER_STUDY = (r"(?:the |a |an |her |his )?(?:\w+ )?(?:prior|previous|earlier|outside|old|comparison|recent|preceding)"
                r" (?:\w+ ){0,2}?(?:ct|cts|studies|study|exams?|examinations?|radiographs?|films?|imaging|x-rays?|cxr|"
                r"scans?)")

# Processes that come and go (a "prior" one is over), unlike residua that stay (granulomas, scars).
_ACUTE = (r"(?:pneumonias?|pneumonitis|infections?|infiltrates?|consolidation|pneumothora(?:x|ces)|effusions?|"
          r"o?edema|atelecta\w*)\b")

# Words that end a noun phrase's modifiers ("prior study there is a new effusion" is not a prior effusion).
_NOT_MODIFIER = (r"(?:ct|cts|stud(?:y|ies)|exam\w*|radiograph\w*|films?|imaging|x-rays?|cxr|scans?|there|is|are|was|"
                 r"were|has|have|with|and|or|of|to|no|new)\b")

# Infections that leave granulomas (healed, not pneumonia).
_GRANULOMATOUS = r"\b(?:granulomatous|histoplasm\w*|tubercul\w*|tb|mycobacteri\w*|coccidioid\w*)"

# A density or opacity described as nodular. Alone it is an opacity, not yet a nodule (MeSH indexes
# most as a round opacity); weighed against a mimic ("nodular density, likely a nipple shadow") the
# question is whether it is a nodule, so there it is a Nodule mention (MENTION_CONTEXT), uncertain at
# most (HEDGED_MENTIONS).
_NODULE_LIKE = r"\bnodular (?:densit(?:y|ies)|opacit(?:y|ies)|shadows?|foc(?:us|i)|lesions?)\b"

# ---------------------------------------------------------------------------------------------
# Mentions: label name -> patterns. A match is one mention of the label in the sentence.
# ---------------------------------------------------------------------------------------------
MENTIONS: dict[str, tuple[str, ...]] = {
    "Atelectasis": (
        r"\batelecta\w*",
        r"\b(?:lobar|lobe|lung|segmental) collapse\b",
        # "partial collapse of the left upper and lower lobes"
        r"\bcollapse of (?:the |a )?(?:\w+ ){0,5}?(?:lobes?|lung)\b",
    ),
    "Cardiomegaly": (
        r"\bcardiomegaly\b",
        r"\b(?:cardiac|heart) enlargement\b",
        r"\benlarge(?:d|ment of the) (?:\w+ ){0,2}"
        r"(?:heart|cardiac silhouette|cardiac shadow|cardiac contour|cardiomediastinal silhouette)s?\b",
        r"\bincrease(?:d)? in (?:the )?(?:heart|cardiac) size\b",
        r"\b(?:heart|cardiac silhouette) is borderline\b",
        r"\b(?:heart|cardiac silhouette|cardiac shadow|cardiac contour|cardiac size|heart size|"
        r"cardiomediastinal silhouette) (?:size )?(?:is |are |appears |remains |which is )?"
        r"(?:\w+ ){0,4}?(?:enlarged|increased|large)\b",
        r"\bborderline (?:\w+ )?(?:heart size|cardiac size|cardiomegaly|enlarge\w+|heart|cardiac silhouette)\b",
        r"\b(?:heart|cardiac) size (?:is )?borderline\b",
    ),
    "Effusion": (
        r"\b(?<!pericardial )effusions?\b",
        r"\bpleural fluid\b",
        r"\bfluid (?:in|within|tracking along) the (?:\w+ ){0,2}(?:fissure|pleural space)s?\b",
        r"\bhydro-?pneumothora\w+",
        r"\bhemothora\w+",
        r"\bhemo-?pneumothora\w+",
    ),
    "Edema": (
        r"\b(?<!soft tissue )(?<!laryngeal )o?edema\b",
        r"\bcongestion\b",
        r"\bvascular (?:prominence|engorgement|redistribution|indistinctness|cephalization)\b",
        r"\b(?:prominen(?:t|ce of the)|increased|engorged|indistinct) (?:\w+ )?(?:pulmonary |lung |central |hilar )?"
        r"vascula(?:rity|ture|r markings)\b",
        r"\bcephalization\b",
        r"\bpulmonary venous hypertension\b",
        r"\bcongestive (?:changes?|pattern)\b",
        r"\bfluid overload\b",
    ),
    "Pneumonia": (
        r"\b(?:broncho)?pneumonias?\b",
        r"\bpneumonitis\b",
        r"\binfectious (?:process|infiltrates?|etiology)\b",
        r"\binfections?\b",
    ),
    "Opacity": (
        r"\bopaci(?:ty|ties|fication|fied)\b",
        r"\binfiltrat(?:e|es|ion|ive)\b",
        r"\bconsolidat(?:ion|ions|ive|ed)\b",
        r"\bair[ -]?space (?:disease|process|opacit\w+|infiltrat\w+|filling)\b",
        r"\b(?<!bone )(?<!soft tissue )(?<!curvilinear )(?<!metallic )densit(?:y|ies)\b",
        r"\bopaque\b",  # "the right lower lobe is totally opaque" (lung context only, as density)
    ),
    "Nodule": (
        r"\bnodules?\b",
        r"\b(?:fibro|reticulo)-?nodular\b",  # "fibronodular scarring" describes nodules
        _NODULE_LIKE,
    ),
    "Mass": (
        r"\bmass(?:es)?\b",
        r"\bmass-?like\b",
    ),
    "Granuloma": (
        r"\bgranulom\w+",
        r"\b(?<!non-)(?<!non )(?<!non)calcified (?:\w+ ){0,4}?"
        r"(?:nodules?|nodes?|foci|focus|densit(?:y|ies)|lymph \w+)\b",
        r"\bcalcified (?:right |left |bilateral )?(?:hilar|mediastinal|paratracheal|subcarinal|aortopulmonary)\b",
        r"\b(?:hilar|mediastinal|paratracheal|subcarinal|perihilar|suprahilar)(?: and (?:hilar|mediastinal))?"
        r" (?:lymph node |nodal )?calcifications?\b",
        r"\b(?:lung|pulmonary|parenchymal|lobe|lingular|base|apical|basilar) calcifications?\b",
    ),
    "Emphysema": (
        r"\b(?<!subcutaneous )(?<!soft tissue )(?<!mediastinal )emphysema\w*",
        r"\bcopd\b",
        r"\bchronic obstructive (?:pulmonary|lung|airway)s? disease\b",
        r"\bobstructive (?:pulmonary|lung) disease\b",
        r"\bbull(?:a|ae|ous)\b",
    ),
    "Pneumothorax": (
        r"\bpneumothora(?:x|ces)\b",
        r"\bhydro-?pneumothora\w+",
        r"\bhemo-?pneumothora\w+",
        r"\bptx\b",
        r"\bpleural air\b",
        r"\bair[- ]fluid levels?\b",  # in the pleural space (context below): a hydropneumothorax
    ),
    "Fracture": (
        r"\bfractur\w*",
        r"\bfx\b",
    ),
    "Hernia": (
        r"\bhernia\w*",
    ),
    "Pleural Thickening": (
        r"\bpleural (?:\w+ ){0,2}thicken\w*",
        r"\bthickening of the (?:\w+ ){0,2}pleura\b",
        r"\bpleural(?:-| |-?parenchymal )(?:scar\w*|plaques?|calcifications?)\b",
        r"\bpleuro-?parenchymal (?:scar\w*|thickening)\b",
        r"\bapical (?:pleural )?capping\b",
        r"\b(?:bi)?apical (?:\w+ ){0,2}thickening\b",
        r"\bfissur\w* thickening\b",
        r"\bthickening (?:in|of) the (?:\w+ )?fissures?\b",
    ),
    "Fibrosis": (
        r"\b(?<!cystic )fibro(?:sis|tic)\b",
        r"\b(?<!pleural )(?<!pleural-)(?<!thickening/)(?<!thickening or )(?<!thickening and )scar(?:s|ring|red)?\b",
        r"\bpleural-?parenchymal scar\w*",
        r"\bpleuroparenchymal scar\w*",
        r"\bcicatri\w+",
    ),
    "Support Devices": (
        r"\bcatheters?\b",
        r"\b(?:picc|pic|port|central|venous|central venous|jugular|subclavian|ij|dialysis|swan-ganz|arterial)"
        r" (?:\w+ )?lines?\b",
        r"\bport-?a-?cath\b",
        r"\bpiccs?\b",  # "PICC terminates in the SVC" (without "line")
        r"\b(?:power ?)?port\b(?= (?:catheter|device|reservoir|tip|in|overl))",
        r"\bpace(?:maker|r)s?\b",
        r"\b(?:aicd|icd|defibrillator)\b",
        r"\b(?:pacing|pacer|pacemaker|ventricular|atrial|cardiac|transvenous) leads?\b",
        r"\btracheostomy\b",
        r"\bstents?\b",
        r"\b(?:prosthetic|artificial|mechanical) (?:\w+ )?valves?\b",
        r"\bvalve (?:replacement|prosthes[ie]s)\b",
        r"\b(?:loop )?recorder\b",
        r"\b(?<!breast )(?:shoulder |humeral )?(?:arthroplast\w+|prosthes[ie]s)\b",
        r"\bdevices?\b",
        r"\btubes?\b",
        r"stimulators?\b",
        r"\b(?:pulse )?generators?\b",
        r"\bshunts?\b",
        r"\btubing\b",
        r"\boccluders?\b",
        r"\b(?:ivc|vena cava) filter\b",
        r"\bleads\b(?! to)",
        r"\b(?:monitor(?:ing)?|ecg|ekg|telemetry|external) leads?\b",
        r"\bprosthetic\b",
        r"\btips? (?:is |are )?(?:in|at|overl\w+|terminat\w+|project\w+|near|within|just|extend\w+|approximat\w+)\b",
        r"\btips?\b(?= (?:\w+ ){0,5}(?:svc|vena cava|cavoatrial|(?:right )?atri\w+|carina|stomach)\b)",
        r"\binternal fixation\b",
        r"\bbone anchors?\b",
    ),
}

# Mentions that only count in a lung context: a "density" is a lung opacity when the sentence
# places it in the lung, not when it overlies a rib, the soft tissues or a device; an air-fluid
# level is a hydropneumothorax in the pleural space, not in a hernia, the bowel or a cavity.
# label -> ((mention pattern, sentence must match, sentence must not match), ...)
MENTION_CONTEXT: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Opacity": ((
        r"densit(?:y|ies)|opaque",
        r"\b(?:lungs?|lobes?|lingula\w*|bases?|basilar|bibasilar|hil(?:um|ar)|perihilar|suprahilar|retrocardiac|"
        r"apical|apex|apices|midlung|air ?space|parenchym\w*|pulmonary)\b",
        r"\b(?:overl\w+|project\w+ over|ribs?|clavicles?|soft tissues?|foreign bod\w+|nipples?|breasts?|bony|"
        r"osseous)\b",
    ),),
    "Pneumothorax": ((
        r"air[- ]fluid levels?",
        r"\b(?:pleura\w*|effusions?|hemithorax|hydro\w*)\b",
        r"\b(?:abdom\w*|bowel|stomach|hernia|esophag\w*|mediastin\w*|cavit\w*|abscess\w*)\b",
    ),),
    # a nodular density is a Nodule mention where a mimic is weighed against it, not over a bone
    "Nodule": ((
        _NODULE_LIKE[2:-2],
        _MIMIC,
        r"\b(?:ribs?|clavicles?|bony|bones?|osseous|fractur\w*|callus|scapula\w*|vertebra\w*)\b",
    ),),
}

# Mentions that describe how something looks, not what it is: a positive reading of one of these
# is uncertain ("nodular density" may be a nodule, a nipple or a vessel end-on).
HEDGED_MENTIONS: dict[str, tuple[str, ...]] = {
    "Nodule": (_NODULE_LIKE,),
}

# Mentions that are about something else: a mention inside a match is dropped. A fractured
# pacing lead, sternal wire or fixation screw is a device failure, not a bone fracture.
_HARDWARE = r"(?:leads?|wires?|screws?|hardware|catheters?|plates?|rods?|electrodes?)"
_LIMB = (r"(?:scaphoid|wrist|hand|fingers?|phalan\w+|metacarp\w+|knee|ankle|foot|toes?|hip|femur|femoral|"
         r"tibia\w*|fibula\w*|radius|radial|ulna\w*|elbow|pelvi\w+)")
MENTION_EXCLUDE: dict[str, tuple[str, ...]] = {
    "Fracture": (
        r"\bfractured (?:(?!with\b)\w+ ){0,3}?" + _HARDWARE + r"\b",
        r"\bfractures? (?:of|in|involving) (?:the |a |an )?(?:(?!with\b)\w+ ){0,3}?" + _HARDWARE + r"\b",
        r"\b" + _HARDWARE + r" (?:of (?:the )?(?:\w+ ){0,3}?)?(?:(?:is|are|appears?|remains?|which is) )?"
        r"(?:\w+ )?fractur\w*",
        # a limb fracture in a combined report is not a chest finding
        r"\bfractur\w* (?:\w+ ){0,5}?" + _LIMB + r"\b",
        r"\b" + _LIMB + r" (?:\w+ ){0,3}?fractur\w*",
    ),
    # masses of the neck, breast or abdomen are not chest (lung, mediastinal, pleural) masses
    "Mass": (r"\b(?:thyroid|breast|neck|abdominal|renal|hepatic|liver|adrenal|pelvic) (?:\w+ )?mass(?:es)?\b",),
    # granulomas of the spleen, liver or pancreas are not chest findings
    "Granuloma": (r".*\b(?:splen\w*|spleen|pancrea\w*|hepatic|liver|renal)\b.*",),
    # "infection" is pneumonia only as an infection of the lung now: an infection that left
    # granulomas (granulomatous, histoplasmosis, tuberculous), the sequelae of one, or one of
    # another organ is not
    "Pneumonia": (
        _GRANULOMATOUS + r"(?:(?:\s*/\s*|,? (?:and|or) )" + _GRANULOMATOUS + r")? infections?\b",
        r"\b(?:sequela\w*|residua\w*|stigmata|scars?|scarring|remote|healed|old) (?:of |from )?(?:\w+ ){0,3}?"
        r"infections?\b",
        r"\b(?:urinary(?: tract)?|uti|wound|skin|soft tissue|line|port|catheter|device|pocket|sinus|ear|"
        r"bladder|kidney|renal|bone|bony|osseous|joint) infections?\b",
    ),
}

# ---------------------------------------------------------------------------------------------
# Context triggers (NegEx / NegBio style). Longest alternatives are tried first, so a trigger
# that contains a shorter one ("cannot exclude" contains "not") wins where both match.
# ---------------------------------------------------------------------------------------------
# Negation that applies to mentions after it, up to a terminator or the end of the sentence.
PRE_NEGATION: tuple[str, ...] = (
    r"no", r"not", r"without", r"negative for", r"free of", r"clear of", r"absence of", r"absent",
    r"resolution of", r"resolved", r"resolving", r"interval clearing of", r"clearing of",
    r"never", r"nor", r"rather than", r"removal of", r"removed", r"cleared",
    r"no (?:\w+ )?(?:evidence|signs?|findings?|suggestion|xxxx) (?:of|for|to suggest)",
    r"(?:is|are|was|were) (?:no|not)", r"(?:has|have) resolved",
    r"ruled out", r"(?:there|which) (?:is|are) (?:no|not)",
    r"unlikely to (?:be|represent)", r"doubt",  # "doubt pneumothorax": the reader leans to absent
    # "the lungs are clear airspace disease": a dictated "clear of" without its "of"
    r"(?:is|are|and) clear(?= (?:of )?(?:focal |acute )?(?:air ?space|consolidation|infiltrat))",
)
# Negation that applies to mentions before it, back to a terminator or the sentence start.
POST_NEGATION: tuple[str, ...] = (
    r"(?:is|are|was|were|has been|have been) (?:\w+ )?(?:not seen|not identified|not visualized|not present|absent|"
    r"resolved|removed|not appreciated|not evident|not demonstrated|not visible|not apparent|not detected)",
    r"not (?:seen|identified|visualized|appreciated|present|evident|demonstrated|visible|apparent|detected)",
    # an appositive that closes the clause: "right lower lobe pneumonia, now resolved"; "effusion,
    # not seen today" (a post-trigger otherwise stops at a comma)
    r",\s*(?:now |since |which (?:has|have|is|are) (?:now |since )?)?(?:(?:nearly |largely |almost |completely )?"
    r"resolved|cleared|removed|no longer (?:seen|present|visible|visualized|identified|evident|apparent)|"
    r"not (?:seen|visible|present|identified|visualized|evident|apparent)(?: today| now)?)(?=\s*(?:[.;,]|$))",
    r"no longer (?:seen|present|visualized|identified|evident|apparent|demonstrated|visible)",
    r"(?:has|have) (?:nearly |almost |largely |completely |since )?resolved", r"resolved", r"(?:has|have) cleared",
    r"(?:has|have) been removed", r"removed", r"(?:is|are|was|were|has been|have been) ruled out",
    r"unlikely", r"doubtful",  # "pneumothorax is unlikely"; "less likely" only hedges (still in the differential)
    r"(?:(?:is|are|appears?|remains?) )?within (?:the )?(?:normal limits|limits of normal)",
    r"(?:may|might|will|would) not be (?:demonstrated|seen|visualized|detected|identified|apparent|evident)",
)
# Uncertainty that applies to mentions after it.
PRE_UNCERTAIN: tuple[str, ...] = (
    r"possible", r"possibly", r"probable", r"probably", r"may", r"might", r"could", r"questionable",
    r"questionably", r"question of", r"question", r"suspicious for", r"suspicious", r"suspect(?:ed)?",
    r"suspicion (?:of|for)", r"concerning for", r"concern for", r"worrisome for",
    r"cannot (?:be )?(?:excluded?|ruled? out)", r"can not (?:be )?(?:excluded?|ruled? out)",
    r"can't (?:be )?(?:exclude|rule out)", r"not (?:be )?(?:excluded?|ruled? out)", r"(?:to )?rule out", r"r/o",
    r"difficult to (?:\w+ )?exclude", r"equivocal", r"suggest(?:s|ed|ing|ive of|ion of)?", r"(?:may|could|might) be",
    r"(?:may|could|might) represent", r"differential(?: diagnosis)?(?: includes?)?", r"versus", r"vs\.?",
    r"borderline", r"likely", r"indeterminate", r"perhaps", r"maybe", r"possibility(?: of)?",
    r"less likely(?: to (?:be|represent))?",
    r"favor(?:s|ed|ing)?", r"favored (?:as|to be)", r"presumed", r"presumably", r"\?",
)
# Uncertainty that applies to mentions before it.
POST_UNCERTAIN: tuple[str, ...] = (
    r"(?:is|are) (?:not )?(?:entirely )?excluded", r"cannot be (?:entirely |completely )?(?:excluded|ruled out)",
    r"not (?:be )?(?:excluded|ruled out)",
    r"(?:is|are) (?:also )?(?:possible|suspected|questioned|likely|less likely|not excluded|favored)",
    r"versus", r"vs\.?",
    r"(?:is|are|would be|remains?) (?:also )?(?:a |an |another |in the )?"
    r"(?:consideration|possibility|differential|concern)",
    r"difficult to (?:\w+ )?exclude", r"\?", r"could be", r"may be",
)
# Post-triggers that explain a mention as a mimic: they may overlap other triggers ("likely" still
# hedges what follows it).
MIMIC_NEGATION: tuple[str, ...] = (_MIMIC_PLAIN, r",\s*" + _MIMIC_PLAIN)
MIMIC_UNCERTAIN: tuple[str, ...] = (_MIMIC_HEDGED, r",\s*" + _MIMIC_HEDGED)
# Phrases that look like a trigger but do not negate or hedge the finding ("no change in the
# effusion" asserts the effusion). A pseudo-trigger that overlaps a mention masks nothing: "no
# cardiac enlargement" and "no enlargement of the heart" negate the enlargement they name, while "no
# interval enlargement of the nodule" does not negate the nodule. "No new X" is not a pseudo-trigger:
# it negates X (see docs/LABELER.md).
PSEUDO: tuple[str, ...] = (
    # "no interval change in the effusion"; not "no interstitial changes of edema" (signs of it)
    r"no (?:\w+ ){0,2}(?:changes?(?! (?:of|to suggest|suggest\w*|consistent|compatible|typical|characteristic)\b)|"
    r"increase|decrease|progression|enlargement|worsening|improvement)",
    r"not (?:\w+ )?(?:changed|increased|decreased|significantly changed|only|necessarily)",
    r"without (?:\w+ ){0,2}(?:change|changes|increase|progression|interval change)",
    r"no longer (?:enlarged|dilated)",  # about something else than the mention
    r"not well (?:seen|visualized|evaluated)", r"not (?:been )?(?:well )?assessed",
    r"gram negative",
    # a present finding explained by the history: "hyperinflation consistent with a history of COPD"
    r"(?:consistent|compatible|in keeping) with (?:the |a |an )?(?:patient's |patients |known |prior |previous )*"
    r"(?:history|hx) of",
    # new since the other study: "densities not seen on the previous exam"
    r"not (?:seen|present|visualized|identified|evident|visible|apparent) (?:\w+ )?(?:on|in) " + _OTHER_STUDY,
)
# Hypothetical or advisory context: a mention after one of these is not a finding of this study
# ("if there is concern for fracture, consider a rib series"); such mentions are dropped. A
# recommendation about a named finding ("CT for further evaluation of the nodule") asserts it.
HYPOTHETICAL: tuple[str, ...] = (
    r"if", r"correlat\w+", r"to (?:exclude|rule out)", r"rule-out", r"(?:evaluat\w+|assess\w*) for",
    r"for (?:evaluation|assessment) of",  # "for evaluation of fractures", not "further evaluation of the nodule"
    r"(?:may|might|could|can) (?:obscure|mask|hide)",  # "overlap could obscure a small nodule"
    r"sensitive (?:in|for) (?:detecting|the detection of|detection of)",  # generic advice about CT
)
# Two mentions of different labels joined by "or" or "/" are a differential ("atelectasis or
# scarring", "nodule/mass"): neither is asserted, so a positive mention becomes uncertain when this
# pattern is the whole text between it and a neighbouring mention.
DIFFERENTIAL_JOIN = r"\s*/\s*|\s*(?:[\w-]+\s+){0,3}?(?:or|and/or|versus|vs\.?)\s+(?:[\w-]+\s+){0,3}?"

# History and other studies. A mention after HISTORY_PRE ("history of pneumonia") or before
# HISTORY_POST ("the effusion seen on the prior CT") is about the past or another study: a negation
# or hedge in the sentence still decides it ("… is not seen today": negative); otherwise it counts
# only when a CURRENT cue after the trigger says it is there now ("… is again seen"), and is dropped
# when none does. HISTORY_PRE's scope ends at a terminator or at HISTORY_STOP.
HISTORY_PRE: tuple[str, ...] = (
    r"history of", r"hx of", r"h/o", r"(?:prior|previous|past|remote) (?:episodes?|bouts?|treatment) (?:of|for)",
    # an acute process called prior or previous is over ("previous right lower lobe pneumonia");
    # chronic residua stay ("prior granulomatous disease", "old rib fractures" are seen now)
    r"(?:prior|previous|past|remote) (?:(?!" + _NOT_MODIFIER + r")[\w-]+ ){0,4}?" + _ACUTE,
    _OTHER_STUDY + r",? (?:which |that )?(?:showed|shows|demonstrated|revealed|described)",
)
HISTORY_POST: tuple[str, ...] = (
    # not "also present on the previous exam", "as seen on the prior CT" (there now as well)
    r"(?<!also )(?<!again )(?<!\bas )(?:seen|noted|described|demonstrated|shown|visualized|visible|identified|"
    r"present|reported|evident) (?:\w+ )?(?:on|in|at|from) " + _OTHER_STUDY,
)
HISTORY_STOP = r",|\b(?:with|now|who|presents?|presenting|here|today|currently)\b"
CURRENT: tuple[str, ...] = (
    r"again (?:seen|noted|demonstrated|identified|visualized|visible|present|appreciated)", r"redemonstrat\w+",
    r"unchanged", r"stable", r"persist\w*", r"remains?", r"still", r"similar", r"again",
    r"(?:has |have )?(?:increased|decreased|enlarged|improved|worsened|grown|progressed|diminished)",
    r"larger", r"smaller", r"bigger", r"worse", r"better", r"(?:more|less) (?:prominent|conspicuous|apparent)",
    r"(?:is|are) (?:\w+ )?(?:seen|visible|present|noted|identified|evident) (?:today|now|currently)",
    r"(?:on|in) (?:the |this )?(?:current|present|today's) (?:study|exam\w*|radiographs?|films?)",
)

# A negation does not reach past a clause that asserts a finding. After a comma, these cues start
# such a clause ("lucency without lung markings, consistent with pneumothorax"), so the comma is a
# terminator (a hedge among them still hedges: "…, suggesting a pneumothorax" is uncertain). Without
# a comma, ASSERTIONS end the scope of an ATTACHED_NEGATION, one that modifies a word before it
# ("lucency without lung markings consistent with pneumothorax"), when the words negated name no
# finding and none of NEGATED_GENERIC; "there is no opacity consistent with pneumonia" and "no
# findings consistent with pneumonia" stay negative.
ASSERTIONS: tuple[str, ...] = (
    r"consistent with", r"compatible with", r"in keeping with", r"diagnostic of", r"characteristic of",
    r"typical of", r"indicati(?:ng|ve of)", r"representing", r"reflecting",
)
ATTACHED_NEGATION: tuple[str, ...] = (r"without", r"with (?:no|absent|absence of)", r"absent")
NEGATED_GENERIC = (r"\b(?:findings?|evidence|signs?|features?|abnormalit\w*|changes?|process\w*|disease|pattern|"
                   r"appearance|xxxx)\b")
_ASSERTING_CLAUSE = (r"(?:which |that )?(?:(?:is|are|was|were|most|findings?|a finding|appearance) )*(?:"
                     + "|".join(ASSERTIONS) + r"|suggest\w*|concerning for|worrisome for|suspicious for|likely|"
                     r"probably|possibly|may|could|due to|secondary to)")

# Words that end a trigger's scope.
TERMINATORS: tuple[str, ...] = (
    r"but", r"however", r"although", r"though", r"which", r"aside from", r"apart from", r"except",
    r"with the exception of", r"otherwise", r"nevertheless", r"yet", r"whereas", r"while", r"since",
    r"there (?:is|are)", r"(?:is|are) (?:present|seen|noted|again seen|again noted|identified|unchanged|stable)",
    r";", r":", r"and (?:a|an|the|mild|moderate|small|large|stable)",
    # a negated clause closed by its verb, then a new clause: "no effusion seen, calcified nodes …"
    r"(?:seen|identified|noted|demonstrated|visualized|present|evident)\s*,",
    r",(?=\s*" + _ASSERTING_CLAUSE + r"\b)",  # ", consistent with …" (see ASSERTIONS)
    # a definite or known finding after a comma starts a new clause, not an item of a negated list:
    # "no new nodules, the known right upper lobe nodule is stable"
    r",(?=\s*(?:the|known|stable|unchanged|persistent|redemonstrated|again|previously)\b)",
)

"""The vocabulary compiled into regular expressions, once per file (through the pattern cache)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from skill import startup_cache
from skill.data import data_path, load_yaml
from skill.errors import ConfigError
from skill.prompt.patterns import (
    BOUND,
    BUILD_CACHE,
    MARK,
    SEG_START,
    LexCache,
    Low,
    Rx,
    Which,
    cache_key,
    claim_ids,
    compile_pattern,
    is_scanner,
    mark_ids,
    open_cache,
    ordered_alternation,
    remember,
    save_cache,
)
from skill.prompt.vocabulary import Vocabulary
from skill.textmatch import (
    alternation,
    bounded,
    required_substrings,
    trie_longest,
    word_alternation,
)

__all__ = ["VOCABULARY_FILE", "Lex", "get_lex"]


VOCABULARY_FILE = "prompt_vocabulary.yaml"


def _is_needs(x: object) -> bool:
    return x is None or (isinstance(x, frozenset) and all(isinstance(w, str) for w in x))


class Lex:
    """The vocabulary compiled into regular expressions, once per file."""

    def __init__(self, v: Vocabulary) -> None:
        self.v = v
        # the closed word classes the mechanisms name, lower-cased ("demonstratives", "relatives", ...)
        self.closed: dict[str, frozenset[str]] = {
            name: frozenset(w.lower() for w in words) for name, words in v.closed_words
        }
        g = v.grammar
        self.dets = {w.lower() for w in g.determiners}
        self.indef = {w.lower() for w in g.indefinite}
        self.pronouns = {w.lower() for w in g.pronouns}
        self.preps = {w.lower() for w in g.prepositions}
        self.conj = {w.lower() for w in g.conjunctions}
        self.attach = {w.lower() for w in g.attach}
        self.verbs = {w.lower() for w in g.verbs}
        self.ing_nouns = {w.lower() for w in g.ing_nouns}
        self.s_nouns = {w.lower() for w in g.s_nouns}
        self.np_stop = {w.lower() for w in g.np_stop}
        self.people = {w.lower() for w in g.people}
        self.person_endings = tuple(w.lower() for w in g.person_endings)
        self.ordinal_words = frozenset(w.lower() for w in g.ordinal_words)
        self.numbers = {k.lower(): n for k, n in g.numbers.items()}
        self.grammar_particles = frozenset(w.lower() for w in g.particles)
        self.plural_dets = frozenset(w.lower() for w in g.plural_determiners)
        self.possessives = {k.lower(): w for k, w in g.possessives.items()}
        self.ordinal = compile_pattern(
            rf"(?<![\w'])(the)\s+({word_alternation(g.ordinals)})(?=\s+\w+(?:s|ed)\b)", re.IGNORECASE
        )
        self.function_words = (
            self.dets | self.preps | self.conj | self.pronouns | {"it", "them", "him", "me", "us", "you"}
        )
        # words after which a word ending in -s is a verb ("pulls a shot", "rises from")
        self.light = self.dets | self.preps | self.conj | {"it", "them", "him", "her", "me", "us"}
        self._stop = word_alternation(sorted(self.function_words))
        self._nonstop = rf"(?!(?:{self._stop})(?![\w'-]))[\w'-]+"
        self._num_words = word_alternation(self.numbers)
        self._langs = word_alternation(v.audio.languages)

        self._compile_lead_in(v)
        self._compile_request_framing(v)
        self._compile_agent(v)
        self._compile_shots(v)
        self._compile_dialogue(v)
        self._compile_camera(v)
        self._compile_framing(v)
        self._compile_lighting(v)
        self._compile_atmosphere(v)
        self._compile_style(v)
        self._compile_hype(v)
        self._compile_exclusions(v)
        self._compile_audio_cues(v)
        self._compile_identity(v)
        self._compile_scene(v)
        self._compile_cleanup(v)
        # --- lint -------------------------------------------------------------------------------------------------
        self.lint = v.lint
        self._compile_editing(v)
        self._compile_story(v)
        self._build_scanner()

    def _compile_lead_in(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- lead-in -------------------------------------------------------------------
        li = v.lead_in
        adj = alternation(li.adjectives)
        cont = alternation(li.containers)
        self.containers = frozenset(w.rstrip("?s").lower() for w in li.containers) | frozenset(
            w.replace("s?", "s").lower() for w in li.containers
        )
        conn = alternation(re.escape(c) if not c.isalpha() and " " not in c else word_alternation([c]) for c in li.connectors)
        det = word_alternation(["a", "an", "the", "one", "some", "this", "my", "our"])
        ws = rf"[\s{MARK}]"  # routing words are lifted first, so markers may sit between the words
        polite = rf"(?:(?:{alternation(li.polite)})[\s,!{MARK}]+)*"
        verbs = alternation(li.verbs)
        stand = word_alternation(li.stand_ins)
        tail = rf"(?:{ws}*(?:{conn})(?![\w'])|{ws}*(?=[.!?\n]|$))"
        self.lead_in = compile_pattern(
            rf"^[\s,{MARK}]*{polite}(?:(?:[!?.]|{MARK})[\s{MARK}]*)*(?:"
            rf"(?:{verbs}){ws}+(?:(?:me|us){ws}+)?(?:(?:{det}){ws}+)?(?:(?:{adj})[\s,{MARK}]+){{0,5}}(?:{cont}){tail}"
            # the verb may be gone already with a request phrase ("Can you do | a short one where")
            rf"|(?:(?:{verbs}){ws}+(?:(?:me|us){ws}+)?|(?<={MARK})|(?<={MARK}\s)|(?<={MARK}\s\s))"
            rf"(?:(?:{det}){ws}+)?(?:(?:{adj})[\s,{MARK}]+){{0,5}}(?:{stand}){ws}*(?:{conn})(?![\w'])"
            rf"|(?:(?:{det}){ws}+)?(?:(?:{adj})[\s,{MARK}]+){{1,5}}(?:{cont}){tail}"
            rf"|(?:(?:{det}){ws}+)?(?:{cont}){tail}"
            rf"|(?:{verbs}){ws}+(?:(?:me|us){ws}+)?(?=(?:{det}){ws})"
            rf")?[\s{MARK}]*[:,\-—]?\s*",
            f,
        )


    def _compile_request_framing(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- request framing ----------------------------------------------------------------
        rq = v.request
        self.request_words = frozenset(w.lower() for w in rq.words)
        self.foreign_request_words = frozenset(w.lower() for w in v.foreign.request_words)
        self.request = Rx(bounded(alternation(rq.phrases)), f)
        self.request_prefix = frozenset(w.lower() for w in rq.prefix)
        self.sign_off = compile_pattern(rq.sign_off)
        self.relay_quote = compile_pattern(v.agent.relay_quote, f)
        self.relay_head = compile_pattern(v.agent.relay_head, f)
        self.relay_persons = frozenset(w.lower() for w in v.agent.relay_persons)
        self.scene_connectors = frozenset(w.lower() for w in v.agent.scene_connectors)
        self.clients = frozenset(w.lower() for w in v.lead_in.clients)
        self.generic_kept = frozenset(w.lower() for w in v.identity.generic_kept)
        self.quoted_request = compile_pattern("|".join(f"(?:{p})" for p in v.agent.quoted_request), f)
        self.span_suffix = compile_pattern(rf"-(?:{alternation(rq.span_suffixes)})(?![\w-])", f)
        self.shifting_words = frozenset(w.lower() for w in v.dialogue.shifting_words)
        self.named_by_key = frozenset(w.lower() for w in v.brief.named_by_key)
        self.request_governing = frozenset(w.lower() for w in rq.governing)
        self.residue_joiners = frozenset(w.lower() for w in rq.residue_joiners)
        self.residue_kept = frozenset(w.lower() for w in rq.residue_kept)
        self.frame_names = [(compile_pattern(it.match, f), it.say) for it in rq.frame_names]
        # what one of which each frame-name pattern's match contains (lowercase; None: unknown)
        self.frame_name_needs: list[frozenset[str] | None] = [
            remember(("needs", it.match, int(f)), functools.partial(required_substrings, it.match, f), _is_needs)
            for it in rq.frame_names
        ]


    def _compile_agent(self, v: Vocabulary) -> None:
        """An agent's tool call and task framing: the call's name, parameter pairs, model ids."""
        f = re.IGNORECASE
        ag = v.agent
        self.agent_call = compile_pattern(
            rf"^[\s{MARK}]*(?P<name>(?:{alternation(ag.call_names)}))\s*\((?P<args>.*)\)[\s;.{MARK}]*$", f | re.DOTALL
        )
        # "MCP call kling3.generate: {prompt: '...', length: '...'}": the call's arguments as an object
        self.agent_obj_call = compile_pattern(
            rf"^[\s{MARK}]*(?:[\w-]+\s+){{0,3}}?(?P<name>(?:{alternation(ag.call_names)}))\s*:\s*\{{(?P<args>.*)\}}[\s;.{MARK}]*$",
            f | re.DOTALL,
        )
        self.agent_framing = Rx(bounded(alternation(ag.framing)), f)
        keys = [k for k, part in self.brief_parts_of(v).items() if part == "request"] + list(ag.param_labels)
        key = alternation(re.escape(k).replace(r"\ ", r"[\s_-]+") for k in sorted(keys, key=len, reverse=True))
        quoted = r"\"[^\"\n]*\"|'[^'\n]*'|\[[^\]\n]*\]"
        # after a colon, only a parameter's value ("model: kling-v3", "fps: 24"): prose keeps its words
        literal = r"(?:[\w.:/-]*\d[\w.:/-]*|true|false|on|off|none|null)"
        # "aspect_ratio=9:16", "model: kling-v3", "--ar 9:16": a request parameter with its value
        run = r"(?:[^,;)\n=](?!\s*[\w-]+\s*=))*[^,;)\n=\s]"  # "platform=Instagram feed post;" to the next pair
        self.agent_pair = compile_pattern(
            rf"(?<![\w'])(?:--)?(?:{key})\s*(?:=\s*(?:{quoted}|{run})|:\s*{literal}(?=\s*(?:[,;)\n]|$)))", f
        )
        self.agent_label = compile_pattern(rf"(?<![\w'])(?:{alternation(ag.param_labels)})\s*[:=]", f)
        self.model_id = compile_pattern(rf"(?<![\w'.-])(?:{alternation(ag.model_ids)})(?![\w'])", f)
        rl = ag.relay
        # "The user wants", "my client (a bakery) would like it": a relayed wish at a sentence's start
        self.relay_wish = compile_pattern(
            rf"(?:^|(?<=[.!?\n:;{MARK}]))[\s{MARK}]*(?P<head>(?:(?:{word_alternation(rl.dets)})\s+)?"
            rf"(?:(?P<plain>{word_alternation(rl.requesters)})|{word_alternation(rl.maybe)})"
            rf"(?:\s*\([^)\n]{{1,40}}\))?(?:\s+(?:{word_alternation(rl.adverbs)}))?(?:\s+|(?=['\u2019]))"
            rf"(?:{word_alternation(rl.wishes)})(?![\w'])(?:\s+(?P<it>{word_alternation(rl.objects)})(?=\s+[\w-]))?)",
            f,
        )
        self.relay_say = rl.say

    @staticmethod
    def brief_parts_of(v: Vocabulary) -> dict[str, str]:
        return {" ".join(re.split(r"[\s_-]+", k.lower())): part for part, keys in v.brief.keys.items() for k in keys}

    def _compile_shots(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        num_words = self._num_words
        # --- shots --------------------------------------------------------------------------
        hw = alternation(v.shot_headers.words)
        numtok = rf"(?:\d{{1,2}}|{num_words}|[a-f](?=\s*[:.)\-\u2013\u2014]))"
        dur = r"(?:\d{1,2}(?:\.\d+)?\s*(?:s|sec|secs|seconds?))"
        self.header = Rx(
            rf"(?:^|(?<=[\s.;:,!?)\]\"]))(?:{hw})\s*#?\s*(?P<num>{numtok})(?![\w.])\s*"
            rf"(?:\((?P<dur>[^)\n]{{0,30}})\)|[,\-\u2013\u2014]\s*(?P<dur2>{dur}|\d{{1,2}}\s*[-\u2013]\s*{dur}))?"
            r"\s*(?:[:.\-\u2013\u2014)]\s*|(?=\n)|(?<=\)\s)(?=[^\W\d_]))",  # "Shot 1 (0-4s) close-up of ...": the time closes it
            f,
        )
        self.list_item = compile_pattern(r"^\s*(?:\(?(\d{1,2}|[a-fA-F])[.)]|[A-F]\s[-\u2013\u2014]|[-*•])\s+(.+?)\s*$")
        self.inline_num = compile_pattern(r"(?:^|(?<=\s))\(?(\d{1,2}|[a-hA-H])\)\s+")
        # "1. Close-up: ... 2. Overhead shot: ...": a number and a full stop where a sentence starts
        self.inline_dot = compile_pattern(r"(?:^\s*|(?<=[.!?]\s))(\d{1,2})\.\s+(?=[^\W\d_])")
        # "A) ... B) ...", "A. ... B. ...", "A - ... B - ...": a capital letter where a sentence starts
        self.inline_letter = compile_pattern(
            r"(?:^\s*|(?<=[.!?:]\s)|(?<=[.!?][\"')]\s))([A-H])(?:[.)]|\s[-\u2013\u2014])\s+(?=[\"\u201c]?[^\W\d_])"
        )
        self.beat_count = compile_pattern(
            rf"(?<![\w'])(?P<n>[2-9]|{num_words})[\s-]+(?:{alternation(v.sequence.count_heads)})(?![\w'])", f
        )
        self.opener = Rx(bounded(alternation(v.sequence.openers)) + r"\s*", f)
        self.cut = Rx(rf"\s*(?:,\s*)?(?:and\s+)?{bounded(alternation(v.sequence.cuts))}[\s,:]*", f)
        self.step = Rx(
            rf"(?:^|[,.;:!?]|\s-)\s*(?:and\s+)?{bounded(alternation(v.sequence.steps))}[\s,:]*", f
        )
        self.paren_dur = compile_pattern(
            r"\(\s*(?:duration\s*:?\s*)?(?:(\d{1,2})\s*(?:s|sec|secs|seconds?)?\s*[-\u2013]\s*)?(\d{1,2})\s*(?:s|sec|secs|seconds?)\s*\)",
            f,
        )
        self.dur_text = compile_pattern(r"(?:(\d{1,2})\s*(?:s|sec|secs|seconds?)?\s*[-\u2013]\s*)?(\d{1,2})\s*(?:s|sec|secs|seconds?)?", f)


    def _compile_dialogue(self, v: Vocabulary) -> None:
        # --- dialogue -------------------------------------------------------------------------
        d = v.dialogue
        self.speech_tone = {k.lower(): t for k, t in d.speech_verbs.items()}
        sv = word_alternation(d.speech_verbs)
        langs = word_alternation(v.audio.languages)
        addressee = word_alternation(d.addressee)
        # right after a verb whose object is the one spoken to ("tells the orchestra")
        hearer = "|".join(rf"(?<=(?<![\w']){re.escape(w)})" for w in d.silent_addressed)

        def line(p: str) -> str:
            return rf"\"(?P<{p}line>[^\"\n]{{1,{d.max_line_chars}}})\""

        tagged = (
            r"\[\s*(?P<tspk>[^\]\[:\"\n]{1,40}?)\s*(?:[:,]\s*(?P<ttone>[^\]\[\"\n]{1,80}?))?\s*\]\s*:?\s*"
            + line("t")
        )
        colon = (
            r"(?:^|(?<=[.;!?\n]))\s*(?P<cspk>[A-Z][\w'-]*(?:\s+[A-Z0-9][\w'-]*){0,2})\s*"
            r"(?:\((?P<ctone>[^)\"\n]{1,60})\)|,\s*(?P<cmood>[a-z][\w'-]*(?:\s+[a-z][\w'-]*){0,2}))?\s*:\s*" + line("c")
        )
        says = (
            rf"(?i:(?:\s*,?\s*(?<![\w'])(?:and|then|before|as)\s+)?(?:(?P<sadv1>\w+ly)\s+)?(?<![\w'])(?P<sverb>{sv})(?![\w'])"
            rf"(?:\s+(?P<sadv2>\w+ly))?(?:\s+(?:{addressee})\s+(?:(?:the|her|his|their|a|an)\s+)?[\w'-]+(?:\s+[\w'-]+){{0,2}}?"
            # the one spoken to as the verb's object ("tells the orchestra", "asks his opponent")
            rf"|(?:{hearer})\s+(?P<sobj>(?:the|her|his|their|its|a|an)\s+[\w'-]+(?:\s+[\w'-]+){{0,2}}?))?"
            rf"(?:\s+in\s+(?P<slang>{langs}))?(?:\s+(?P<sadv3>\w+ly))?"
            r"(?:\s*,\s*(?P<smanner>[a-z]+)(?=\s*,)|\s+(?P<swith>with\s+(?:a|an)\s+[a-z]+))?\s*[,:]?\s*"
            rf"(?:\((?P<stone>[^)\"\n]{{1,60}})\)\s*)?)" + line("s")
            # the one spoken to, after the line ("says 'Ta-da!' to the crowd"): the tag says it
            + rf"(?i:(?P<sto>\s+(?:(?:{addressee})\s+(?:the|her|his|their|a|an)|with\s+(?:a|an))\s+[\w'-]+(?:\s+[\w'-]+){{0,2}}?)"
            r"(?=\s*(?:[,.;!?]|$)))?"
        )
        rev = (
            line("r")
            + r"(?i:\s*,?\s*(?P<rspk>she|he|they|i|we|(?:the|a|an|her|his|their)\s+[\w'-]+(?:\s+[\w'-]+)?|[a-z][\w'-]+)\s+"
            rf"(?:(?P<radv1>\w+ly)\s+)?(?P<rverb>{sv})(?![\w'])(?:\s+(?P<radv2>\w+ly))?(?:\s+in\s+(?P<rlang>{langs}))?)"
        )
        # 'Reyes slams a file on the table: "You knew."': a line after a colon ends the action of its speaker
        acted = r"\s*:\s*" + line("a") + r"(?=\s*(?:[.!?]\s|[.!?]?$|\n))"
        self.dialogue = compile_pattern(f"(?:{tagged})|(?:{colon})|(?:{says})|(?:{rev})|(?:{acted})")
        # reported speech: "the seller calls out that mangoes are two for a dollar while he ..."
        self.reported = compile_pattern(
            rf"(?i:(?<![\w'])(?P<verb>{sv})\s+that\s+(?P<said>[^,;:\"\n]+?))"
            r"(?=\s+(?:while|as|before|after|until|when)\s|\s*[,;.!?]|$)"
        )
        self.not_speech = {w.lower() for w in d.not_speech_before}
        self.generic_people = frozenset(w.lower() for w in d.generic_speakers)
        self.not_speakers = frozenset(w.lower() for w in d.not_speakers)
        self.pronoun_speakers = {k.lower(): w for k, w in d.pronoun_speakers.items()}


    def _compile_camera(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- camera -----------------------------------------------------------------------------
        cam = v.camera
        pace_alt = "|".join(f"(?:{p})" for p in cam.pace.values())
        self.pace = [(k, compile_pattern(rf"^(?:{p})$", f)) for k, p in cam.pace.items()]
        self.moves = cam.moves
        noun_groups = [f"(?P<nn>{ordered_alternation(mv.match for mv in cam.moves)})"] if any(mv.match for mv in cam.moves) else []
        verb_groups = [f"(?P<vv>{ordered_alternation(mv.verb for mv in cam.moves)})"] if any(mv.verb for mv in cam.moves) else []
        imp_groups = [f"(?P<ii>{ordered_alternation(mv.imperative for mv in cam.moves)})"] if any(mv.imperative for mv in cam.moves) else []
        self.move_which = {
            "noun": Which([mv.match for mv in cam.moves]),
            "verb": Which([mv.verb for mv in cam.moves]),
            "imp": Which([mv.imperative for mv in cam.moves]),
        }
        self.particles = frozenset(d.lower() for d in cam.verb_particles)
        self._compile_camera_clauses(v)
        direction = rf"(?:\s+(?:to\s+the\s+)?(?P<dir{{s}}>{word_alternation(cam.directions)}))?".replace("{{s}}", "{s}")
        tprep = alternation(word_alternation([p]) for p in cam.target_preps)
        boundary = rf"(?=\s*(?:[,.;:!?\n{MARK}]|$)|\s+(?:as|while|and|then|before|until|where|when|who|to\s+reveal|revealing)(?![\w']))"
        tword = r"(?:\"[^\"\n]{1,60}\"|[\w'-]+)"
        objdet = word_alternation(["the", "a", "an", "her", "him", "them", "his", "their", "its", "it", "this", "that", "me", "us"])

        def suffix(s: str, allow_object: bool) -> str:
            # a direct object: after a verb form, or after an -ing noun ("orbiting a lighthouse")
            obj = (
                rf"|(?=(?:{objdet})(?![\w'])))"
                if allow_object
                else rf"|(?<=ing\s)(?=(?:{objdet})(?![\w'])))"
            )
            return (
                direction.format(s=s)
                + rf"(?:\s+(?P<q{s}>{pace_alt}))?"
                + rf"(?:\s+(?:(?P<tp{s}>{tprep})\s+{obj}(?P<tg{s}>{tword}(?:\s+{tword}){{0,11}}?){boundary})?"
                + rf"(?:\s*,?\s*(?P<rv{s}>{alternation(cam.reveal)})\s+(?P<rt{s}>{tword}(?:\s+{tword}){{0,7}}?){boundary})?"
            )

        # Three forms, each its own pattern with its own pre-check. Pacing words in front of a
        # noun form ("a slow, steady push-in") are collected leftwards in Python.
        self.pace_word = compile_pattern(rf"(?:{pace_alt}|very|and)", f)
        self.camera_filler = frozenset(w.lower() for w in cam.filler)
        self.cam_forms: list[tuple[str, Rx]] = []
        self.cam_again: Rx | None = None
        self.cam_subject_words: frozenset[str] = frozenset()
        if verb_groups:
            verb = rf"\s+(?:(?P<pb>{pace_alt})\s+)?(?:(?:begins?|starts?)\s+to\s+)?(?:{'|'.join(verb_groups)})" + suffix("b", True)
            self.cam_forms.append(("verb", Rx(bounded(rf"{word_alternation([cam.subject_word])}{verb}"), f)))
            self.cam_subject_words = frozenset(w.lower() for w in cam.subject_prefix)
            # "... zooms in and pans left": a second verb after a lifted move
            self.cam_again = Rx(rf"(?<={MARK})\s*,?\s*(?:and\s+then|and|then){verb}", f)
        if noun_groups:
            self.cam_forms.append(("noun", Rx(bounded(rf"(?:{'|'.join(noun_groups)})" + suffix("a", False)), f)))
        if imp_groups:
            self.cam_forms.append(
                ("imp", Rx(rf"(?:(?P<pc>{pace_alt})\s+)?(?:{'|'.join(imp_groups)})(?![\w'])" + suffix("c", False), f, clause=True))
            )


    def _compile_camera_clauses(self, v: Vocabulary) -> None:
        """camera.py's clause patterns, from the vocabulary's lists (in their order)."""
        f = re.IGNORECASE
        cc, word = v.camera.clauses, v.camera.subject_word
        alt = "|".join
        cam = re.escape(word)
        self.cam_clause_subject = compile_pattern(
            rf"^(?:(?:{alt(cc.subject_conjunctions)})\s+)?(?:the\s+)?{cam}(?!\s+(?:{alt(cc.not_camera)}))\s+\w", f
        )
        self.cam_buried = compile_pattern(
            rf"(?:,\s*)?(?<![\w'])(?:{alt(cc.buried_conjunctions)})\s+(?:(?:{alt(cc.crew_dets)})\s+)?(?:{alt(cc.crew)})(?![\w'])", f
        )
        pron = alt(cc.object_pronouns)
        self.cam_points_back = compile_pattern(rf"\s+(?:(?:{alt(cc.points_back_preps)})\s+)?(?:{pron})(?![\w'])", f)
        self.cam_subordinate = compile_pattern(rf"^\s*,?\s*(?:{alt(cc.stacking_conjunctions)})\s+(?:the\s+)?{cam}\b", f)
        self.cam_and_next = compile_pattern(rf"^\s*,?\s*(?:{alt(cc.next_conjunctions)})\s", f)
        self.cam_object_pronoun = compile_pattern(rf"(?<![\w'])({pron})(?![\w'])", f)
        self.cam_after_move = compile_pattern(rf"\s+(?=(?:{alt(cc.after_move)})\s)|\s*,\s*", f)
        self.cam_whole_film = compile_pattern(rf"\s*,?\s*(?<![\w'])(?:{alt(cc.whole_film)})(?![\w'])", f)
        self.cam_thing_back = compile_pattern(rf"(?<![\w'])(?:{alt(cc.points_back_things)})(?![\w'])", f)
        self.cam_same_person = {k.lower(): v.lower() for k, v in cc.same_person.items()}

    def _compile_framing(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- framing ---------------------------------------------------------------------------
        fe = v.framing.entries
        self.framing_entries = fe
        self.framing_prefix = frozenset(w.lower() for w in v.framing.prefix)
        self.framing = Rx(bounded(ordered_alternation(e.match for e in fe)), f)
        self.framing_which = Which([e.match for e in fe])
        conj = word_alternation(sorted(self.conj))
        self.of_np = compile_pattern(
            rf"\s+of\s+(?P<np>(?:(?!(?:{conj})(?![\w']))[\w'-]+\s*){{1,6}}?)(?=\s*(?:[,.;:!?\n{MARK}]|$)|\s+(?:{conj})(?![\w']))",
            f,
        )
        self.list_sep = compile_pattern(r"\s*(,|;|\.(?=\s)|(?<![\w'])(?:and\s+)?then(?![\w']))\s*", f)
        self.sizes = Rx(bounded(alternation(p for e in fe if e.kind in ("size", "composition") for p in e.match)), f)


    def _compile_lighting(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        stop = self._stop
        nonstop_word = self._nonstop
        # --- lighting: found by its head, modifiers collected leftwards in Python -----------------
        li_ = v.lighting
        self.li_mods = {m.lower() for m in li_.modifiers}
        self.li_next = compile_pattern(rf"\s+({alternation(li_.need_modifier)})(?![\w'])", f)
        self.li_drop = frozenset(d.lower() for d in li_.drop_prefix)
        self.lighting = Rx(
            bounded(
                rf"(?P<ph>{alternation(li_.phrases)})|(?P<hd>{alternation(li_.heads)})"
                rf"|(?P<nm>{alternation(li_.need_modifier)})|(?P<sg>{alternation(li_.segment)})"
            ),
            f,
        )
        self.li_src = compile_pattern(
            rf"\s+(?:{alternation(li_.source_preps)})\s+(?:(?:the|a|an|her|his|their)\s+)?"
            rf"{nonstop_word}(?:\s+{nonstop_word})?(?=\s*(?:[,.;:!?\n{MARK}]|$)|\s+(?:{stop})(?![\w']))",
            f,
        )


    def _compile_atmosphere(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- atmosphere -----------------------------------------------------------------------------
        at = v.atmosphere
        self.atmosphere = Rx(bounded(alternation(at.phrases)), f)
        self.atmosphere_prefix = frozenset({"with", "in", "and", "a", "an"})
        self.atmosphere_seg = Rx(rf"(?:and\s+)?(?P<seg>{alternation(at.segment)})(?=\s*(?:[,.;:!?\n{MARK}]|$))", f, clause=True)


    def _compile_style(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- style ------------------------------------------------------------------------------------
        st = v.style
        self.families = st.families
        self.style = Rx(bounded(rf"(?P<st>{ordered_alternation(fam.match for fam in st.families)})(?:[\s-]+(?:style|look|aesthetic))?"), f)
        self.style_which = Which([fam.match for fam in st.families])
        segs = [fam.segment for fam in st.families]
        self.style_seg_which = Which(segs)
        self.style_seg = (
            Rx(
                rf"(?:(?:in\s+)?(?:an?\s+)?)(?P<st>{ordered_alternation(segs)})(?:\s+(?:style|look))?(?=\s*(?:[,.;:!?\n{MARK}]|$))",
                f,
                clause=True,
            )
            if any(segs)
            else None
        )
        self.conflicts = [tuple(c) for c in st.conflicts]
        self.adherence = {fam.name: fam.adherence for fam in st.families}


    def _compile_hype(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- hype --------------------------------------------------------------------------------------
        hy = v.hype
        self.hype = Rx(bounded(alternation(hy.always)), f)
        soup = alternation(hy.soup)
        self.soup = Rx(rf"(?:and\s+)?{soup}(?=\s*(?:[,.;:!?\n{MARK}]|$))", f, clause=True)
        self.soup_head = Rx(rf"(?<![\w'])(?:{soup})(?=\s+(?:{alternation(hy.soup_heads)})(?![\w]))", f)


    def _compile_exclusions(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- exclusions ---------------------------------------------------------------------------------
        ex = v.exclusions
        self.excl_trigger = Rx(bounded(rf"(?P<t>{alternation(ex.triggers)})") + r"\s+", f)
        self.excl_not_after = {w.lower() for w in ex.not_after}
        self.excl_not_before = {w.lower() for w in ex.not_before}
        self.excl_audio = [(k, compile_pattern(rf"^(?:{p})$", f)) for k, p in ex.audio.items()]
        self.excl_camera = compile_pattern(rf"^(?:{ex.camera})$", f)
        self.excl_item_stop = compile_pattern(rf"\s+(?:{word_alternation(ex.item_stop)})(?![\w']).*$", f)
        self.excl_max = ex.max_items
        self.trigger_word = compile_pattern(rf"^\s*(?:(?:or|and|nor)\s+)?(?:{alternation(ex.triggers)})\s+", f)


    def _compile_audio_cues(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        nonstop_word = self._nonstop
        langs = self._langs
        # --- audio cues: found by their head word, modifiers collected leftwards in Python ---------
        au = v.audio
        self.au_tones = {t.lower() for t in au.voice_tones}
        self.au_music_mod = compile_pattern(rf"(?:{alternation(au.music_mods)})", f)
        self.au_need_mod = compile_pattern(rf"(?:{alternation(au.music_need_modifier)})", f)
        self.au_effect_free = compile_pattern(rf"(?:{alternation(au.effect_free)})", f)
        self.au_drop = {w.lower() for w in au.drop_prefix}
        self.au_of_bare = frozenset(w.lower() for w in au.of_bare)
        self.audio = Rx(
            bounded(
                rf"(?P<vo>{alternation(au.voiceover_heads)})"
                rf"|(?P<of>{alternation(au.of_heads)})(?=\s+of\s)"
                rf"|(?P<mu>{alternation(au.music_heads)})"
                rf"|(?P<amb>{alternation(au.ambience_heads)})"
                rf"|(?P<fx>{alternation(au.effect_heads)})"
                rf"|(?P<dl>{alternation(au.dialogue_words)})"
            ),
            f,
        )
        self.switch_words = frozenset(w.lower() for w in au.switch_words)
        self.sound_word = compile_pattern(
            bounded(alternation([*au.voiceover_heads, *au.music_heads, *au.ambience_heads, *au.effect_heads,
                                 *au.dialogue_words, *au.of_heads, *au.sound_verbs])),
            f,
        )
        self.au_music_next = compile_pattern(rf"\s+(?:{alternation([*au.music_heads, *au.music_tails])})(?![\w'])")
        # "music soft": a modifier after the head, at the clause's end (a non-native writer's order)
        self.au_music_post = compile_pattern(rf"\s+(?:{alternation(au.music_mods)})(?=\s*(?:[,.;:!?]|$))", f)
        self.au_lang = compile_pattern(rf"\s+in\s+(?:{langs})(?![\w'])", f)
        self.au_of_tail = compile_pattern(
            rf"\s+of\s+(?:(?:the|a|an|her|his|their|its)\s+)?{nonstop_word}(?:\s+{nonstop_word}){{0,2}}", f
        )


    def _compile_identity(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- identity -------------------------------------------------------------------------------------
        idn = v.identity
        keep_tail = rf"(?:\s*(?:{alternation(idn.keep_tail)}))*"
        clause = rf"[^,.;:!?\n{MARK}]"
        self.identity = Rx(
            rf"(?:{SEG_START}|(?<=\sand))\s*(?:and\s+)?(?:please\s+)?(?:{word_alternation(idn.keep_verbs)})\s+(?!{alternation(idn.not_kept)})(?P<k>{clause}{{1,60}}?){keep_tail}{BOUND}"
            rf"|(?<![\w'])(?P<s>(?:her|his|their|its|the)\s+(?:[\w'-]+\s+){{0,3}}?[\w'-]+)\s+(?:{alternation(idn.stay_verbs)})\s+(?:exactly\s+)?(?:{alternation(idn.keep_tail)})"
            rf"|(?<![\w'])(?:{alternation(idn.negations)})\s+(?:{alternation(idn.change_verbs)})(?:ing)?\s+(?P<c>{clause}{{1,60}}?){BOUND}"
            rf"|{SEG_START}\s*(?:and\s+)?(?:keep\s+)?(?:the\s+)?same\s+(?P<a>{alternation(idn.same_objects)})(?:\s+{idn.same_scope})?{BOUND}"
            rf"|{SEG_START}\s*(?:and\s+)?only\s+(?P<m>{clause}{{1,40}}?)\s+(?:{alternation(idn.only_moving)}){BOUND}",
            f,
        )
        self.items = [(compile_pattern(bounded(it.match), f), it.say) for it in idn.items]


    def _compile_scene(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        stop = self._stop
        nonstop_word = self._nonstop
        # --- scene -----------------------------------------------------------------------------------------
        sc = v.scene
        self.scene_nouns = sorted({n.lower() for n in sc.nouns}, key=lambda n: (-len(n), n))
        self.scene = Rx(
            bounded(
                rf"(?P<prep>{word_alternation(sc.preps)})\s+(?P<core>(?:(?:{word_alternation(sorted(self.dets))})\s+)?"
                rf"(?:{nonstop_word}[\s-]+){{0,3}}?(?:{word_alternation(sc.nouns)})s?)"
            )
            + rf"(?=\s*(?:[,.;:!?\n{MARK}]|$)|\s+(?:{stop})(?![\w']))",
            f,
        )
        self.place_np = Rx(
            rf"(?<![\w'])(?P<det>the|a|an|this|that|his|her|their|its|our)\s+"
            # "a child's hand sets a boat": a noun with an -s before an article is a verb, no "set"
            rf"(?P<core>(?:{nonstop_word}\s+){{0,3}}?(?:{word_alternation(sc.nouns)})"
            rf"(?:s(?!\s+(?:{word_alternation(sorted(self.dets))})(?![\w'])))?)"
            rf"(?=\s*(?:[,.;:!?\n]|$)|\s+(?:{stop})(?![\w']))",
            f,
        )
        self.scene_one = {n for n in self.scene_nouns if " " not in n}
        self.scene_two = {n for n in self.scene_nouns if n.count(" ") == 1}


    def _compile_cleanup(self, v: Vocabulary) -> None:
        f = re.IGNORECASE
        # --- cleanup ------------------------------------------------------------------------------------------
        ed = v.editing
        articles = {w.lower() for w in ed.mend_articles}
        dangle = word_alternation(sorted(self.preps | self.conj | articles | {w.lower() for w in ed.mend_dangling}))
        lead = word_alternation(ed.mend_lead)
        self.negations = frozenset(w.lower() for w in ed.negations)
        # around a lifted span: "a <wide shot> of", "with <cafe sound>.", ", <camera move> as she"
        self.c_around = compile_pattern(
            rf"(?<![\w'])(?:a|an|the)\s*(?:{MARK}\s*)+of\s+"
            rf"|(?<![\w'-])(?:{dangle})[ \t]*(?:{MARK}[ \t]*)+(?=[,.;:!?\n]|$|{MARK})"
            rf"|{SEG_START}\s*(?:{MARK}\s*)+(?:(?:{lead})\s+)+",
            f,
        )
        self.c_article = compile_pattern(rf"(?<![\w'])(a|an|A|An)\s*(?:{MARK}\s*)+(?=(\w))")
        self.c_start_conn = compile_pattern(rf"^\s*(?:(?:{lead})\s+)+", f)


    def _compile_editing(self, v: Vocabulary) -> None:
        """What the minimal edits need: requester words, causatives, hype chains, dialogue words."""
        f = re.IGNORECASE
        ed = v.editing
        self.requester_words = frozenset(w.lower() for w in ed.requester)
        self.requester = compile_pattern(rf"(?<![\w'])(?:{word_alternation(ed.requester)})(?=\s+\w)", f)
        self.shorthand = [(compile_pattern(it.match, f), it.say) for it in ed.shorthand]
        self.causative = compile_pattern(
            rf"^[\s{MARK}]*(?:(?:please|now|just|and|then)[\s{MARK}]+)*(?:{word_alternation(ed.causative)})\s+(?=\S)", f
        )
        self.object_pronouns = {k.lower(): w for k, w in ed.object_pronouns.items()}
        self.verbs_like_adjectives = frozenset(w.lower() for w in ed.verbs_like_adjectives)
        self.adverbs = {k.lower(): w for k, w in ed.adverbs.items()}
        hy = v.hype
        self.soup_word = compile_pattern(bounded(alternation(hy.soup)), f)
        self.soup_head_word = compile_pattern(rf"\s*(?:{alternation(hy.soup_heads)})(?![\w])", f)
        praise = rf"(?:(?:{word_alternation(hy.praise_intensifiers)})\s+)?(?:{alternation(hy.praise)})"
        # "Amazing lighting", "gorgeous, perfect colours": praise and what it praises
        unit = rf"{praise}(?:\s*(?:,|and|&)?\s*{praise})*\s+(?:{alternation(hy.praised)})"
        self.praise = compile_pattern(bounded(rf"{unit}(?:\s*,?\s*(?:(?:and|&)\s+)?{unit})*"), f)
        d = v.dialogue
        self.silent = {k.lower(): w for k, w in d.silent.items()}
        self.silent_addressed = {k.lower(): w for k, w in d.silent_addressed.items()}
        self.shown_speech = compile_pattern(bounded(alternation(d.shown_speech)), re.IGNORECASE)
        self.implied_speech = Rx(bounded(alternation(d.implied_speech)), f)
        self.reply_verbs = frozenset(w.lower() for w in d.reply_verbs)
        self.linking = dict(d.linking)
        self.switch_only = frozenset(self.switch_words)

    def _compile_story(self, v: Vocabulary) -> None:
        """What reading a story needs: sequencers, anchors by subject, brief keys, restating places."""
        f = re.IGNORECASE
        sq = v.sequence
        self.seq = Rx(
            rf"(?<![\w'])(?:(?P<cut>{alternation(sq.cuts)})|(?P<op>{alternation(sq.openers)})"
            rf"|(?P<step>{alternation(sq.steps)}))(?![\w'])[\s,:]*",
            f,
        )
        self.subject_starts = frozenset(w.lower() for w in sq.subject_starts)
        self.viewer = compile_pattern(rf"^(?:{alternation(sq.viewer)})\s+(?=\w)", f)
        an = v.anchor
        self.products = frozenset(w.lower() for w in an.products)
        self.animals = frozenset(w.lower() for w in an.animals)
        self.contents_links = frozenset(w.lower() for w in an.contents_links)
        self.groups = frozenset(w.lower() for w in an.groups)
        self.places = frozenset(w.lower() for w in an.places)
        self.buildings = frozenset(w.lower() for w in an.buildings)
        self.wardrobe = frozenset(w.lower() for w in an.wardrobe)
        self.transformation = Rx(bounded(alternation(an.transformations)), f)
        self.time_change = Rx(bounded(alternation(an.time_changes)), f)
        self.end_state = Rx(bounded(alternation(an.end_states)), f)
        self.moving_words = compile_pattern(bounded(alternation(an.moving)), f)
        br = v.brief
        self.brief_parts = {" ".join(re.split(r"[\s_-]+", k.lower())): part for part, keys in br.keys.items() for k in keys}
        keys = alternation(re.escape(k).replace(r"\ ", r"[\s_-]+") for k in self.brief_parts)
        # a key at a line start, or after ";" "/" "|" ":" or a sentence end (". Camera: ...")
        self.brief_key = compile_pattern(
            rf"(?:^|(?<=[;/|:])|(?<=[.!?]\s)|(?<=[;/|:]\s))\s*(?:(?:[-*\u2022>#]+|\(?\d{{1,2}}[.)]|\(?[a-hA-H]\))\s*)?[\"']?(?P<key>{keys})[\"']?\s*[:=]\s*", f
        )
        self.brief_min = br.min_keys
        sc = v.scene
        self.on_nouns = frozenset(w.lower() for w in sc.on_nouns)
        self.at_nouns = frozenset(w.lower() for w in sc.at_nouns)

    def _build_scanner(self) -> None:
        """One regex that finds, in a single pass, every pattern whose needed substrings occur."""
        rxs: list[Rx] = [x for x in vars(self).values() if isinstance(x, Rx)]
        rxs += [rx for _f, rx in self.cam_forms]
        base = min((rx.uid for rx in rxs), default=0)
        # kept with ids counted from this vocabulary's first pattern (0 in the first one of a process)
        spec = tuple((rx.uid - base, rx.needs) for rx in rxs)
        ids, always, trie = remember(("scanner", spec), lambda: self._scanner(spec), is_scanner)
        if base:
            ids = {w: frozenset(i + base for i in s) for w, s in ids.items()}
            always = frozenset(i + base for i in always)
        self.scan_ids: dict[str, frozenset[int]] = ids
        self.scan_always: frozenset[int] = always
        self.scan_rx = compile_pattern(f"(?=({trie}))") if trie is not None else None

    @staticmethod
    def _scanner(
        spec: tuple[tuple[int, tuple[str, ...] | None], ...],
    ) -> tuple[dict[str, frozenset[int]], frozenset[int], str | None]:
        by_word: dict[str, set[int]] = {}
        always: set[int] = set()
        for uid, needs in spec:
            if needs is None or any(len(n) < 2 and not n.isdigit() for n in needs):
                always.add(uid)
                continue
            for n in needs:
                by_word.setdefault(n, set()).add(uid)
        # the scan reports the longest need at each position; it implies every need that prefixes it
        ids = {
            w: frozenset().union(*(by_word[w[:k]] for k in range(1, len(w) + 1) if w[:k] in by_word))
            for w in by_word
        }
        return ids, frozenset(always), (trie_longest(by_word) if by_word else None)

    def scan(self, text: str) -> Low:
        """``text`` lowercased, with the set of patterns that may match it."""
        low = Low(text.lower())
        present = set(self.scan_always)
        if self.scan_rx is not None:
            ids = self.scan_ids
            for w in set(self.scan_rx.findall(low)):
                present |= ids[w]
        low.present = frozenset(present)
        return low

    # -- helpers ---------------------------------------------------------------------------------------------------

    def pace_of(self, word: str | None) -> str:
        if not word:
            return ""
        w = " ".join(word.lower().split())
        for key, rx in self.pace:
            if rx.match(w):
                return key
        return w


@functools.lru_cache(maxsize=1)
def _default_vocab_path() -> str:
    return str(data_path(VOCABULARY_FILE))


@functools.lru_cache(maxsize=8)
def _lex_for(path: str) -> Lex:
    """The whole compiled vocabulary from the start-up cache when this process can take its pattern
    ids (the first vocabulary of a process); else built, from the build cache's ingredients."""
    k = cache_key(path)
    got = startup_cache.load("lexicon", k) if k is not None else None
    if isinstance(got, tuple) and len(got) == 3 and isinstance(got[0], Lex) and claim_ids(got[1], got[2]):
        return got[0]
    cache = open_cache(path, k) if k is not None else None
    if cache is not None:
        cache.whole_stored = got is not None
    start = mark_ids()
    if cache is not None and cache.raw is not None:
        try:
            return _lex_from(path, cache.raw, cache, start)
        except Exception:  # a stored build that does not build again: start afresh
            cache = LexCache(cache.key)
    return _lex_from(path, load_yaml(Path(path)), cache, start)


def _lex_from(path: str, raw: Any, cache: LexCache | None, start: int = -1) -> Lex:
    stored = cache.vocab if cache is not None else None
    try:
        # a stored build keeps the vocabulary it validated: its models need not be built again
        vocab = stored if isinstance(stored, Vocabulary) else Vocabulary.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid prompt vocabulary: {exc}", code="bad_data_file") from exc
    if cache is not None and vocab is not stored:
        cache.dirty = True
    token = BUILD_CACHE.set(cache)
    try:
        lex = Lex(vocab)
    except re.error as exc:
        raise ConfigError(f"{path}: a pattern does not compile: {exc}", code="bad_data_file") from exc
    finally:
        BUILD_CACHE.reset(token)
    if cache is not None and cache.dirty:
        save_cache(path, cache, raw, vocab)
    if cache is not None and start >= 0 and not cache.whole_stored:
        book = {(p, got[0]): got for (p, _f), got in cache.codes.items()}
        startup_cache.store("lexicon", cache.key, (lex, start, mark_ids()), book)
    return lex


def get_lex(vocabulary: Path | str | None = None) -> Lex:
    return _lex_for(str(vocabulary) if vocabulary is not None else _default_vocab_path())

"""Extractive answers and query analysis: pure functions, data tables."""

from __future__ import annotations

import pytest

from ragls.core.extractive import NOT_COVERED, extractive_answer, prose_sentences, symbol_answer
from ragls.core.query import analyze_query
from ragls.core.types import Chunk, Hit, SearchResult

DOC = """---
title: Guide
---
# Retries

The client retries failed requests automatically.
Retries are configured with the `retry_policy` setting
in `client.toml`.

```toml
# not prose: retry_policy = 3
```

- Backoff doubles after each attempt, up to thirty seconds.
"""


def hit(
    text: str, path: str = "docs/guide.md", start: int = 1, kind: str = "markdown", symbols=(), doc="",
    language: str = "", heading=(), root: str = "",
) -> Hit:
    lines = text.split("\n")
    chunk = Chunk(path, start, start + len(lines) - 1, text, kind, language, tuple(heading), tuple(symbols), doc)
    return Hit(chunk, score=1.0, root=root)


def test_sentences_carry_exact_line_ranges_and_skip_markup():
    sentences = prose_sentences(DOC, 1)
    assert [(s.start_line, s.end_line) for s in sentences] == [(6, 6), (7, 8), (14, 14)]
    assert sentences[1].text == "Retries are configured with the `retry_policy` setting in `client.toml`."
    assert all("not prose" not in s.text and "title" not in s.text for s in sentences)


def test_answer_cites_the_lines_of_its_sentences():
    result = SearchResult("how are retries configured", (hit(DOC),), covered=True)
    answer = extractive_answer("how are retries configured", result)
    assert not answer.abstained
    assert answer.text.endswith("[1]")
    (citation,) = answer.citations
    # (the sentence on line 6 only mentions retries: it does not say how they are configured)
    assert (citation.path, citation.start_line, citation.end_line) == ("docs/guide.md", 7, 8)


def test_not_covered_abstains_without_citations():
    result = SearchResult("q", (hit(DOC),), covered=False)
    answer = extractive_answer("what is the meaning of life", result)
    assert answer.abstained and answer.citations == () and answer.text == NOT_COVERED


def test_symbol_answer_prefers_definitions_and_returns_none_for_silence():
    code = hit("def send_request(session):\n    return 1", path="src/c.py", start=10, kind="code", symbols=["send_request"], doc="Send a request with retries.")
    answer = symbol_answer("send_request", [code])
    assert answer is not None and "Send a request with retries." in answer.text
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (10, 11)
    assert symbol_answer("unrelated_name", [hit(DOC)]) is None


@pytest.mark.parametrize(
    "text, words, symbols, subwords",
    [
        ("How are retries configured?", ("retries", "configured"), ("retries", "configured"), ()),
        ("what does session.retry_policy do", ("session", "retry", "policy"), ("session.retry_policy", "session", "retry_policy"), ("session", "retry", "policy")),
        ("HTTPResponse", ("httpresponse",), ("httpresponse",), ("http", "response")),
        ('foo( a"b', ("foo", "b"), ("foo",), ()),
        ("", (), (), ()),
        ("😀", (), (), ()),
    ],
)
def test_query_analysis(text, words, symbols, subwords):
    parts = analyze_query(text)
    assert parts.words == words
    assert parts.symbols[: len(symbols)] == symbols
    assert parts.subwords == subwords


def test_symbol_answer_ignores_code_that_only_uses_the_name():
    user = hit("def helper(ix) -> WorkspaceIndex:\n    return ix", path="src/u.py", kind="code", symbols=["helper"], doc="")
    prose = hit("# Index\n\nThe WorkspaceIndex owns the Tantivy writer of one folder.", path="docs/a.md")
    answer = symbol_answer("WorkspaceIndex", [user, prose])
    assert answer is not None and [c.path for c in answer.citations] == ["docs/a.md"]


@pytest.mark.parametrize(
    "text, natural",
    [
        ("How are secrets kept out of the index?", True),
        ("what does retry_policy default to", False),
        ("HTTPResponse", False),
        ("retry policy", False),  # two words: a name lookup as much as a question
    ],
)
def test_natural_language_questions_are_told_from_code_lookups(text, natural):
    assert analyze_query(text).natural_language is natural


def test_covered_topic_without_a_stating_sentence_points_at_the_sections():
    page = hit(
        "## Neovim\n\n```lua\nvim.lsp.start({cmd = {'ragls', '--stdio'}})\n```", path="docs/EDITORS.md", start=40,
        heading=("Editors", "Neovim"),
    )
    answer = extractive_answer("How do I configure Neovim to use the server?", SearchResult("q", (page,), covered=True))
    assert not answer.abstained
    assert answer.text == "The closest passages are *Editors > Neovim* [1]."
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (40, 44)


def test_symbol_answer_does_not_cite_the_line_being_hovered():
    notes = hit("Release notes\n\nThe session now reads retry_policy from the settings file.", path="notes.txt", kind="text", root="/ws")
    docs = hit("# Retry policy\n\nThe `retry_policy` decides how often a failed request is sent again.", path="docs/retry.md", root="/ws")
    everything = symbol_answer("retry_policy", [notes, docs])
    assert [c.path for c in everything.citations] == ["notes.txt", "docs/retry.md"]
    hovering = symbol_answer("retry_policy", [notes, docs], reading=("/ws", "notes.txt", 3))
    assert [(c.path, c.start_line) for c in hovering.citations] == [("docs/retry.md", 3)]
    # another line of the same file, or the same path in another folder, is still a source
    assert len(symbol_answer("retry_policy", [notes, docs], reading=("/ws", "notes.txt", 1)).citations) == 2
    assert len(symbol_answer("retry_policy", [notes, docs], reading=("/other", "notes.txt", 3)).citations) == 2
    # hovering the only mention: nothing else to say, no hover
    assert symbol_answer("retry_policy", [notes], reading=("/ws", "notes.txt", 3)) is None


def test_a_module_docstring_describes_the_module_not_its_first_constant():
    header = '"""In-process llama.cpp backend: one Llama object, several LoRA adapters."""\n\nimport ctypes\n\nGGUF_MAGIC = b"GGUF"'
    module = Hit(Chunk("server/llama_backend.py", 1, 5, header, "code", "python", symbols=("GGUF_MAGIC",), doc="In-process llama.cpp backend: one Llama object, several LoRA adapters."), 1.0)
    result = SearchResult("llama backend adapters", (module,), covered=True)
    answer = extractive_answer("llama backend adapters", result)
    assert answer.text.startswith("`llama_backend.py`: In-process llama.cpp backend")
    assert "GGUF_MAGIC" not in answer.text
    assert answer.citations[0].title == "server/llama_backend.py"  # the module, not its first names
    # a hover on the constant says where it is defined, without lending it the module's docstring
    hover = symbol_answer("GGUF_MAGIC", [module])
    assert hover.text == '`GGUF_MAGIC` is defined here (`GGUF_MAGIC = b"GGUF"`). [1]'
    assert (hover.citations[0].start_line, hover.citations[0].end_line) == (5, 5)  # its own line
    # a definition keeps its own docstring, comments above it included
    function = hit(
        "# retries\ndef send(request):\n    '''Send with retries.'''", path="src/c.py", kind="code", language="python",
        symbols=["send"], doc="Send with retries.",
    )
    assert symbol_answer("send", [function]).text == "`send` is defined here: Send with retries. [1]"


def test_hover_on_a_name_in_a_packed_chunk_names_that_name_and_its_line():
    from ragls.core.chunking import chunk_document

    source = "def f():\n    pass\n\ndef g():\n    return f()\n\nTIMEOUT = 3\nRETRIES = 5\n"
    chunks = chunk_document("pkg/small.py", source)
    packed = next(c for c in chunks if "g" in c.symbols)
    assert packed.symbols[0] != "g"  # several tiny definitions share one chunk
    answer = symbol_answer("g", [Hit(packed, 1.0)])
    assert answer.text == "`g` is defined here (`def g():`). [1]"
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (4, 4)
    constants = next(c for c in chunks if "RETRIES" in c.symbols)
    answer = symbol_answer("RETRIES", [Hit(constants, 1.0)])
    assert answer.text == "`RETRIES` is defined here (`RETRIES = 5`). [1]" and answer.citations[0].start_line == 8


# --- defects seen on real questions (issue 18) ---------------------------------------------------

from ragls.core.extractive import MAX_ANSWER_CHARS, MAX_SENTENCE_CHARS  # noqa: E402


def _answer(question: str, *hits: Hit):
    return extractive_answer(question, SearchResult(question, tuple(hits), covered=True))


def test_a_glossary_tooltip_reads_as_its_term_and_inline_code_stays_code():
    text = (
        "The ResourceSlices that your driver publishes contain information about the\n"
        "devices. You\n"
        'can use {{< glossary_tooltip term_id="cel" >}} to filter for properties in your\n'
        "DeviceClasses with `device.attributes`.\n"
        '{{< glossary_tooltip text="Pods" term_id="pod" >}} run on nodes with `kubelet` agents.\n'
    )
    texts = [s.text for s in prose_sentences(text, 10)]
    assert "You can use cel to filter for properties in your DeviceClasses with `device.attributes`." in texts
    assert "Pods run on nodes with `kubelet` agents." in texts  # a line opening with a shortcode is prose too
    assert not any("{{" in t or "You can use to" in t for t in texts)


def test_html_is_read_as_text_and_block_tags_end_sentences():
    text = "<p>The <code>--max-pods</code> flag caps pods per node &amp; defaults to 110</p><p>Another paragraph here for sure.</p>"
    texts = [s.text for s in prose_sentences(text, 3)]
    assert texts == ["The `--max-pods` flag caps pods per node & defaults to 110", "Another paragraph here for sure."]


def test_the_same_sentence_from_overlapping_chunks_is_given_once():
    section = "The lease duration is 15 seconds by default.\nRenewal happens every 10 seconds."
    first = hit(section, start=5)
    overlap = hit("Intro words that set the scene.\n" + section, start=4)  # a window of the same section
    answer = _answer("How long is the lease duration by default?", first, overlap)
    assert answer.text.count("The lease duration is 15 seconds by default.") == 1


def test_a_long_bulleted_list_on_one_line_is_cut_into_items():
    items = [f"format{n}: a valid value of kind {n} as parsed by the library routine number {n}" for n in range(30)]
    line = "The following formats are validated: " + " - ".join(items)
    assert 2400 <= len(line) <= 2800
    sentences = prose_sentences(line, 400)
    assert len(sentences) > 5 and all(len(s.text) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all((s.start_line, s.end_line) == (400, 400) for s in sentences)
    answer = _answer("Which value does format17 accept?", hit(line, start=400))
    assert "format17" in answer.text and len(answer.text) <= MAX_ANSWER_CHARS + 20


def test_a_50000_character_line_is_never_the_whole_answer():
    line = " ".join(f"token{n % 97} value{n}" for n in range(3500))  # no sentence punctuation at all
    line = (line + " retry budget")[:50_000]
    assert len(line) >= 45_000
    answer = _answer("what is the retry budget value", hit(line, start=1), hit("The retry budget is 10% of requests per second.", path="docs/b.md"))
    assert not answer.abstained and len(answer.text) <= MAX_ANSWER_CHARS + 20
    assert "10%" in answer.text  # the real sentence wins over a fragment of the huge line


def test_a_quantity_question_prefers_the_sentence_with_the_quantity():
    text = (
        "The horizontal pod autoscaler checks metrics and scales workloads for you.\n\n"
        "The autoscaler checks metrics every 15 seconds by default."
    )
    question = "How often does the autoscaler check metrics?"
    answer = extractive_answer(question, SearchResult(question, (hit(text),), covered=True), max_sentences=1)
    assert answer.text == "The autoscaler checks metrics every 15 seconds by default. [1]"


def test_a_weak_second_sentence_from_another_page_is_not_appended():
    good = hit("The server keeps the index fresh while you edit: it watches files and re-indexes them.", path="README.md")
    weak = hit("The evaluation keeps numbers for every index change we made.", path="docs/EVALUATION.md")
    answer = _answer("How does the server keep the index fresh while I edit?", good, weak)
    assert [c.path for c in answer.citations] == ["README.md"]


def test_a_sentence_quoting_the_whole_question_is_not_an_answer():
    quoting = hit('Asking "how does the server keep the index fresh while I edit" cited the wrong file.', path="docs/notes.md")
    good = hit("The server re-indexes a file within a second of saving it, so the index stays fresh.", path="README.md")
    answer = _answer("How does the server keep the index fresh while I edit?", quoting, good)
    assert [c.path for c in answer.citations] == ["README.md"]


MODES = """# Cache modes

The cache modes you can choose for a build machine are:

`NoCache` (default)
: Builds running on this machine do not and cannot reuse earlier outputs.

`SharedCache`
: Builds can reuse the outputs of earlier builds.

The cache is configured per machine by its administrator in the configuration file.
"""


def test_a_lead_in_is_quoted_with_the_list_under_it_and_cited_over_both():
    question = "Which cache modes can a build machine choose?"
    answer = extractive_answer(question, SearchResult(question, (hit(MODES),), covered=True))
    first = answer.text.split(" [1]")[0]
    # "…are:" alone says nothing; the answer is the list under it, even past the blank lines
    assert first.startswith("The cache modes you can choose for a build machine are: `NoCache` (default)")
    assert "`SharedCache` : Builds can reuse the outputs of earlier builds." in first
    (citation,) = answer.citations
    assert (citation.start_line, citation.end_line) == (3, 9)
    # the list items joined the lead-in: none is quoted a second time
    assert answer.text.count("NoCache") == 1


def test_a_lead_in_followed_by_code_stays_as_it_is():
    text = "# Create\n\nCreate the gizmo from this manifest file with the gizmo tool:\n\n```yaml\nkind: Gizmo\n```\n\nLater prose about gizmo updates follows much further down here.\n"
    question = "How do I create the gizmo from a manifest?"
    answer = extractive_answer(question, SearchResult(question, (hit(text),), covered=True))
    assert "Create the gizmo from this manifest file with the gizmo tool: [1]" in answer.text
    assert "Later prose" not in answer.text.split("[1]")[0]


@pytest.mark.parametrize("question", ["How can the proxy reload its config file?", "How does one reload the config file?"])
def test_how_questions_of_any_subject_are_how_tos_that_favour_the_flag_to_use(question):
    from ragls.core.extractive import _answer_kind_bonus

    # (not only "how do I": a how-to's answer names the command, flag or setting to use)
    with_flag = _answer_kind_bonus(question, "To reload the config file, run the server with `--reload-config`.")
    without = _answer_kind_bonus(question, "The config file of the API server is reloaded from disk by the server.")
    assert with_flag > without == 0.0


def test_a_light_verb_of_the_question_does_not_pick_the_sentence():
    # "make" is the question's grammar: a sentence that happens to say "makes" is not the answer.
    text = (
        "# Certificates\n\nThe proxy makes the gateway server certificate available to every agent.\n\n"
        "The gateway server checks the agent certificate against the configured authority bundle.\n"
    )
    question = "How do I make the gateway server check the agent certificate?"
    answer = extractive_answer(question, SearchResult(question, (hit(text),), covered=True), keep_ratio=0.99)
    assert answer.text.startswith("The gateway server checks the agent certificate"), answer.text


def test_a_how_to_values_a_flag_as_much_as_a_question_that_asks_for_one():
    from ragls.core.extractive import _answer_kind_bonus

    sentence = "To skip steps, pass `--skip-steps` to the backup command."
    # (at least as much: the how-to also values the instruction form, "To skip steps, pass …")
    assert _answer_kind_bonus("How do I leave out steps of a backup?", sentence) >= _answer_kind_bonus(
        "Which flag leaves out steps of a backup?", sentence
    )
    # inline code that is not a flag is a weaker sign of a how-to's answer
    assert _answer_kind_bonus("How do I leave out steps of a backup?", "Steps are listed in `steps.yaml` here.") < \
        _answer_kind_bonus("How do I leave out steps of a backup?", sentence)


def test_an_abbreviation_ends_no_sentence():
    # A training target cut at "e.g." read "… with the scales from the settings (e.g [1]." and the
    # adapter learned to stop there.
    from ragls.core.extractive import prose_sentences, split_sentences

    text = "Pairs come from the settings (e.g. `(name, scale)` pairs) of each mode. Then i.e. The next one. It ends here."
    assert split_sentences(text) == [
        "Pairs come from the settings (e.g. `(name, scale)` pairs) of each mode.",
        "Then i.e. The next one.",
        "It ends here.",
    ]
    assert [s.text for s in prose_sentences(text, 1)][0].endswith("pairs) of each mode.")
    assert split_sentences("Stable in v1.33. The end.") == ["Stable in v1.33.", "The end."]


def test_context_passages_answer_only_for_pages_among_the_hits_and_never_twice():
    retrieved = hit("# Backups\n\nThe backup agent uploads snapshots of every volume and prunes them.", path="docs/backup.md")
    same_page = hit("## Schedule\n\nThe backup agent runs every 15 minutes by default.", path="docs/backup.md", start=10)
    other_page = hit("## Schedule\n\nThe backup agent runs every 99 minutes by default.", path="docs/other.md", start=10)
    question = "How often does the backup agent upload snapshots by default?"
    result = SearchResult(question, (retrieved,), covered=True)
    answer = extractive_answer(question, result, context=(retrieved, same_page, other_page))
    assert "15 minutes" in answer.text and "99 minutes" not in answer.text
    assert answer.text.count("The backup agent uploads snapshots") == 1
    schedule = next(c for c in answer.citations if c.start_line == 12)
    assert (schedule.path, schedule.end_line) == ("docs/backup.md", 12)
    # without context the retrieved passage is all there is
    assert "15 minutes" not in extractive_answer(question, result).text


def test_a_question_of_one_or_two_words_is_answered_from_the_retrieved_passages_only():
    intro = hit("# Work pool\n\nA work pool hands scheduled runs to the workers that poll it.", path="docs/pool.md")
    later = hit("## Limits\n\nThe work pool controller adds limits to work pool queues.", path="docs/pool.md", start=20)
    result = SearchResult("What is a work pool?", (intro,), covered=True)
    answer = extractive_answer("What is a work pool?", result, context=(later,))
    assert "hands scheduled runs" in answer.text and "limits" not in answer.text


def test_a_how_to_is_answered_by_the_instruction_not_by_a_description_sharing_its_words():
    from ragls.core.extractive import _answer_kind_bonus

    text = (
        "# Upload profiles\n\n"
        "When clients contact the storage server, they authenticate with an upload profile (`default`).\n"
        "To use a non-default upload profile, set the `profileName` field of a client.\n"
    )
    question = "How do I run a client under a particular upload profile?"
    answer = extractive_answer(question, SearchResult(question, (hit(text, path="docs/profiles.md"),), covered=True), max_sentences=1)
    assert "`profileName`" in answer.text
    how = "How do I pick the upload profile of a client?"
    instruction = "To pick one, set the `profileName` field of a client."
    description = "The `profileName` field of a client picks one."
    for form in ("Set the `profileName` field.", "You can set the `profileName` field.", instruction):
        assert _answer_kind_bonus(how, form) > _answer_kind_bonus(how, description), form
    # only a how-to asks for an instruction
    assert _answer_kind_bonus("Which field picks the upload profile?", instruction) == _answer_kind_bonus(
        "Which field picks the upload profile?", description
    )


def test_a_name_written_as_the_question_writes_it_outweighs_its_words_apart():
    text = (
        "# Policies\n\n"
        "The validations of a policy spec are checked on every request the policy matches.\n"
        "The `spec.rules` field holds expressions that must all hold for a request.\n"
    )
    question = "What goes into spec.rules of a Policy?"
    answer = extractive_answer(question, SearchResult(question, (hit(text, path="docs/policy.md"),), covered=True), max_sentences=1)
    assert "`spec.rules` field holds expressions" in answer.text


def test_a_synonym_in_a_sentence_matches_the_questions_word_but_a_short_one_is_no_prefix():
    text = (
        "# Static manifests\n\n"
        "The agent reads every manifest in the manifests directory at start-up.\n"
        "Manifests are plain YAML files.\n"
    )
    question = "Which folder holds the manifests the agent reads?"
    answer = extractive_answer(question, SearchResult(question, (hit(text, path="docs/m.md"),), covered=True), max_sentences=1)
    assert "manifests directory" in answer.text
    from ragls.core.extractive import _scored_sentences

    # "app" (a synonym of "application") must not match "apply"
    # (needs two of the question's three words: "log", and "application" only through "apply")
    scored, _ = _scored_sentences("Where is the application log kept?", (hit("# Restart\n\nTo apply the change, check the log first.", path="docs/r.md"),))
    assert not scored


def test_the_model_is_shown_the_passages_of_the_extractive_answer_first_and_no_more_passages():
    from ragls.core.extractive import extractive_answer_and_passages, passages_for_model

    first = hit("# Backups\n\nThe backup agent uploads snapshots of every volume.", path="docs/backup.md")
    second = hit("# Restore\n\nRestores read the newest snapshot of a volume.", path="docs/restore.md")
    schedule = hit("## Schedule\n\nThe backup agent uploads snapshots every 15 minutes by default.", path="docs/backup.md", start=10)
    question = "How often does the backup agent upload snapshots by default?"
    result = SearchResult(question, (first, second), covered=True)
    answer, answered_from = extractive_answer_and_passages(question, result, context=(schedule,))
    assert "15 minutes" in answer.text and answered_from[0] == schedule  # best sentence first
    shown = passages_for_model(question, answered_from, result.hits)
    chunks = [h.chunk for h in shown]
    assert schedule.chunk in chunks and len(shown) == len(result.hits)
    # quoted hits keep retrieval's order, ahead of the quoted section it did not rank
    quoted_hits = [h for h in result.hits if h in answered_from]
    assert list(shown[: len(quoted_hits)]) == quoted_hits and chunks[len(quoted_hits)] == schedule.chunk
    # the section retrieval did not rank comes without a snippet; shown to a model, it has one
    assert not schedule.snippet and "**" in shown[len(quoted_hits)].snippet
    # and so does it where the answer cites it
    cited = next(c for c in answer.citations if c.start_line == 12)
    assert "**" in cited.snippet
    # no room for every quoted passage: the best ones stay
    def chunks_of(hits):
        return [h.chunk for h in hits]

    assert chunks_of(passages_for_model(question, (schedule, first, second), (first,))) == [schedule.chunk]
    assert chunks_of(passages_for_model(question, (second, schedule), (first, second))) == [second.chunk, schedule.chunk]
    assert passages_for_model(question, (), result.hits) == result.hits


def test_sentence_scores_are_the_same_in_every_process_whatever_its_hash_seed():
    # A set's order follows the hash seed; summing weights in it changed the float rounding that
    # breaks ties, and with it which lines a model was shown (bench_focus moved by a question).
    import os
    import subprocess
    import sys

    script = (
        "from ragls.core.extractive import _scored_sentences\n"
        "from ragls.core.types import Chunk, Hit\n"
        "text = '# Buckets\\n\\n' + ' '.join(f'Sentence {i} names bucket quota objects, storage agents, replicas and defaults.' for i in range(3))"
        " + '\\nThe first storage agent replica creates the default BucketQuota object for the site.\\n'\n"
        "hit = Hit(Chunk('docs/s.md', 1, 4, text, 'markdown', '', (), (), ''), score=1.0)\n"
        "scored, _ = _scored_sentences('Which component creates the default BucketQuota object for storage agents?', (hit,))\n"
        "print(repr([s for s, *_ in scored]))\n"
    )
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1, outputs

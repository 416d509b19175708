"""Curate notebooks/recordings/08_monitoring.yaml from the drafts a lenient run saved.

Run once after
`REPLAY_MODE=lenient REPLAY_DRAFT=1 ... helpers._support.notebooks run 08_monitoring`:
each draft's request is kept and its answer replaced by a hand-written one. Visible tokens are
counted with o200k_base; reasoning tokens are chosen by hand (gpt-5.4-nano reasons more on the
same question, as small models tend to at the same effort), so completion tokens, and with
them the simulated latency of section 3, differ from answer to answer.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import yaml

from helpers._support.tokenizer import get_encoding
from helpers.replay import RecordingsFile
from helpers.replay.azure import CREATED
from helpers.replay.config import DEFAULT_DEPLOYMENTS

PATH = Path(__file__).with_name("08_monitoring.yaml")
ENCODING = get_encoding("o200k_base")

ANSWERS: dict[tuple[str, str], tuple[str, int]] = {
    ("gpt-5.4-mini", "In one sentence"): (
        "Chains wear because grit and dry metal-on-metal contact grind the pins and rollers, so "
        'the links lengthen ("stretch") and start to wear the cassette and chainrings too.',
        0,  # sections 1 and 2 ask with reasoning_effort none
    ),
    ("gpt-5.4-mini", "How often should I oil"): (
        "Every 150 to 300 km in dry weather, and after every wet or muddy ride: wipe the chain, "
        "put one drop of oil on each roller, let it soak in for a few minutes and wipe off the "
        "excess so it does not collect dirt.",
        128,
    ),
    ("gpt-5.4-nano", "How often should I oil"): (
        "Oil it about every 200 km, or after any ride in the rain. Wipe the chain first, oil each "
        "roller sparingly and wipe the outside dry.",
        384,
    ),
    ("gpt-5.4-mini", "What tyre pressure"): (
        "For a 40 mm gravel tyre, start around 2.4 bar (35 psi) for a 75 kg rider on mixed "
        "surfaces; go down to about 2.0 bar (29 psi) tubeless on loose gravel, and up towards "
        "2.8 bar (40 psi) on tarmac. Check the limits printed on the tyre and rim.",
        192,
    ),
    ("gpt-5.4-nano", "What tyre pressure"): (
        "Roughly 2.1 to 2.8 bar (30 to 40 psi): lower for loose gravel and tubeless, higher for "
        "roads and heavier riders. Stay within the tyre's and rim's printed limits.",
        448,
    ),
    ("gpt-5.4-mini", "Why do disc brakes squeal"): (
        "Water and the grime it carries change the friction between pad and rotor, so the pad "
        "grips and slips in quick succession and the rotor vibrates; it usually stops once the "
        "rotor dries. Persistent squeal points to contaminated pads or a misaligned caliper.",
        256,
    ),
    ("gpt-5.4-nano", "Why do disc brakes squeal"): (
        "A wet rotor makes the pads stick and slip rapidly, which sets the rotor vibrating. It "
        "fades as the rotor dries; if it does not, clean the rotor and check the pads.",
        512,
    ),
    ("gpt-5.4-mini", "How do I know my brake pads"): (
        "Look into the caliper: replace disc pads when less than about 1 mm of friction material "
        "is left (3 mm including the backing plate), or rim pads when the grooves are gone. "
        "Longer lever travel, grinding or falling braking power are warnings too.",
        192,
    ),
    ("gpt-5.4-nano", "How do I know my brake pads"): (
        "Replace them when the pad material is under about 1 mm thick, the wear grooves have "
        "disappeared, or you hear metal grinding.",
        320,
    ),
    ("gpt-5.4-mini", "What does a torque wrench"): (
        "It keeps bolts on carbon parts (stem, seatpost clamp, handlebar) at the torque the maker "
        "specifies, so they hold without crushing the fibres: overtightening can crack carbon "
        "in a way you cannot see.",
        128,
    ),
    ("gpt-5.4-nano", "What does a torque wrench"): (
        "It stops you overtightening bolts on carbon parts, which can crush or crack the fibres; "
        "set it to the torque printed next to each bolt.",
        448,
    ),
    # Section 5: the model-router deployment. The replay server's routing rule (not Azure's)
    # sends effort none to gpt-5.4-nano and effort medium to gpt-5.4-mini; the drafts carry the
    # answering model, which these answers keep.
    ("model-router", "In one sentence: what does a chain checker"): (
        "A chain checker measures chain wear, the elongation of the chain's pitch as its pins "
        "and rollers wear, and shows when it passes 0.5 % or 0.75 % and the chain should go.",
        0,
    ),
    ("model-router", "Plan a winter service"): (
        "1. Clean the drivetrain and check chain wear; replace the chain past 0.5 %.\n"
        "2. Switch to a wet lube and oil the chain after every salty ride.\n"
        "3. Check brake pads and rotors, and bleed hydraulic brakes if the lever feels soft.\n"
        "4. Fit winter tyres with more grip and puncture protection, at slightly lower pressure.\n"
        "5. Check lights and mudguards, and grease the seatpost, pedals and exposed bolts.",
        320,
    ),
    ("model-router", "In one sentence: what is a quick link"): (
        "A quick link is a two-piece chain link that joins a chain by hand, so the chain can be "
        "taken off for cleaning or replaced without a chain tool.",
        0,
    ),
}


def answer_for(body: dict) -> tuple[str, int]:
    question = body["messages"][0]["content"]
    for (deployment, start), answer in ANSWERS.items():
        if body["model"] == deployment and question.startswith(start):
            return answer
    raise KeyError(f"no curated answer for {body['model']}: {question}")


def usage(prompt: int, text: str, reasoning: int) -> dict:
    completion = len(ENCODING.encode(text)) + reasoning
    return {
        "completion_tokens": completion,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "reasoning_tokens": reasoning,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": prompt,
        "prompt_tokens_details": {"cached_tokens": 0},
        "total_tokens": prompt + completion,
    }


def curate_json(interaction: dict, n: int) -> None:
    body = interaction["response"]["body"]
    text, reasoning = answer_for(interaction["request"]["body"])
    model = interaction["request"]["body"]["model"]
    body["id"] = f"chatcmpl-CMon08{n:026d}"
    if not DEFAULT_DEPLOYMENTS[model].routes_to:  # a router's draft names the answering model
        body["model"] = DEFAULT_DEPLOYMENTS[model].model
    body["created"] = CREATED
    body["choices"][0]["message"]["content"] = text
    body["choices"][0]["finish_reason"] = "stop"
    body["usage"] = usage(body["usage"]["prompt_tokens"], text, reasoning)


def curate_stream(interaction: dict, n: int) -> None:
    events = [json.loads(chunk["data"]) for chunk in interaction["response"]["stream"]]
    text, reasoning = answer_for(interaction["request"]["body"])
    annotation, role, content_template = events[0], events[1], events[2]
    finish, usage_chunk = events[-2], events[-1]
    chunk_id = f"chatcmpl-CMon08{n:026d}"
    pieces = re.findall(r"\S+\s*", text)
    content = []
    for piece in pieces:
        event = copy.deepcopy(content_template)
        event["choices"][0]["delta"] = {"content": piece}
        content.append(event)
    usage_chunk["usage"] = usage(usage_chunk["usage"]["prompt_tokens"], text, reasoning)
    stream = [annotation, role, *content, finish, usage_chunk]
    for event in stream[1:]:
        event["id"] = chunk_id
        event["created"] = CREATED
    interaction["response"]["stream"] = [
        {"data": json.dumps(event, separators=(",", ":")), "delay_ms": 0} for event in stream
    ]


def main() -> None:
    text = PATH.read_text(encoding="utf-8")
    header = text[: text.index("format:")]
    document = yaml.safe_load(text)
    for n, interaction in enumerate(document["interactions"], start=1):
        for chunk in interaction["response"].get("stream") or []:  # a draft run writes 0.0
            if float(chunk.get("delay_ms", 0)).is_integer():
                chunk["delay_ms"] = int(chunk.get("delay_ms", 0))
        if interaction.get("name") not in (None, "draft"):
            continue
        body = interaction["request"]["body"]
        interaction["name"] = (
            f"{body['model']}-" + re.sub(r"[^a-z]+", "-", body["messages"][0]["content"].lower())
        ).strip("-")[:60] + ("-stream" if body.get("stream") else "")
        if interaction["response"].get("stream"):
            curate_stream(interaction, n)
        else:
            curate_json(interaction, n)
    document["description"] = (
        "Curated gpt-5.4-mini and gpt-5.4-nano answers for notebooks/08_monitoring.ipynb: one "
        "question answered whole and streamed, and five bike-care questions per deployment for "
        "the monitored run (faults and latency come from the server's configuration, not from "
        "these recordings); three answers of the model-router deployment, each naming the model "
        "that answered (gpt-5.4-nano or gpt-5.4-mini, by the replay server's routing rule)."
    )
    PATH.write_text(
        header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    RecordingsFile.load(PATH)


if __name__ == "__main__":
    main()

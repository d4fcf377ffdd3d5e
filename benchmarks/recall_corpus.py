"""Offline chat text for the recall benchmark: one user's conversations, and questions about them.

A user talks to an assistant about many things over weeks: each
conversation stays on one subject for a few turns (a question, an answer,
follow-ups with details, thanks), as real chats do, and the details (names,
numbers, versions, places) vary so that texts rarely repeat. Everything is
generated from word lists with a seeded ``random.Random``: the same seed
gives the same corpus, with no network and no data set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_SUBJECTS: dict[str, tuple[str, ...]] = {
    "infrastructure": (
        "the TLS certificate renewal", "the load balancer health checks", "the Valkey replica lag",
        "the Kubernetes rollout", "the DNS failover", "the Terraform state lock", "the nightly backup job",
        "the CI pipeline cache", "the log retention policy", "the VPN split tunnel",
    ),
    "code": (
        "the asyncio task leak", "the flaky integration test", "the JSON schema migration",
        "the memory leak in the parser", "the race in the retry loop", "the type errors after the upgrade",
        "the slow ORM query", "the feature flag cleanup", "the pagination bug", "the Unicode normalization issue",
    ),
    "data": (
        "the churn dashboard", "the A/B test for onboarding", "the embedding model evaluation",
        "the sales forecast", "the duplicate customer records", "the survey results", "the ETL job that drops rows",
        "the cohort retention chart",
    ),
    "home": (
        "the leaking kitchen tap", "the bathroom repainting", "the noisy boiler", "the garden irrigation timer",
        "the mould behind the wardrobe", "the wifi dead zone upstairs", "the broken dishwasher", "the new bookshelf",
    ),
    "health": (
        "the half-marathon plan", "my lower back pain", "the sleep routine", "the low-sugar meal plan",
        "the physiotherapy exercises", "my caffeine intake", "the knee strengthening routine",
    ),
    "travel": (
        "the trip to Porto", "the train tickets to Vienna", "the Iceland road trip", "the visa for Japan",
        "the hotel near the conference", "the delayed flight refund", "the packing list for the Alps",
    ),
    "money": (
        "the quarterly tax estimate", "the mortgage refinance", "the household budget", "the pension contributions",
        "the invoice the client has not paid", "the currency exchange fees", "the insurance claim",
    ),
    "work": (
        "the performance review", "the hiring plan for the platform team", "the offsite agenda",
        "the incident postmortem", "the roadmap for next quarter", "the on-call handover", "the salary negotiation",
    ),
    "learning": (
        "the Spanish verb drills", "the statistics course", "the piano practice schedule", "the Rust ownership chapter",
        "the photography exposure basics", "the chess endgame studies", "the sourdough hydration experiments",
    ),
    "family": (
        "my daughter's science project", "the birthday party for Sam", "the school application forms",
        "grandma's move to the care home", "the weekend schedule with the kids", "the dog's vet visits",
    ),
}  # fmt: skip

_USER_OPENERS = (
    "I need help with {s}.", "Can we look at {s} again?", "Something is off with {s}.",
    "What would you do about {s}?", "I'm worried about {s}.", "Where do I even start with {s}?",
    "Quick one about {s}: {detail}.", "Following up on {s} from {when}.", "{person} asked me about {s}, can you help?",
    "I keep putting off {s}.",
)  # fmt: skip
_USER_FOLLOWUPS = (
    "It happened again {when}, and {detail}.", "I tried that but {outcome}.", "What if {detail}?",
    "{person} thinks we should {action} instead.", "Does it matter that {detail}?",
    "Is {number} too much?", "How long should that take?", "Can you write it as a checklist?",
    "I only have {number} minutes today.", "Which of those is the cheapest?", "Could it be because {detail}?",
)  # fmt: skip
_USER_CLOSERS = (
    "Thanks, that fixed it.", "Great, I'll {action} tomorrow.", "Perfect, I'll tell {person}.",
    "OK, I'll try that and report back.", "That makes sense now, thank you.", "Noted, let's revisit {when_next}.",
)  # fmt: skip
_ASSISTANT_LINES = (
    "For {s}, I would first {action}, then check whether {detail}.",
    "The usual cause with {s} is that {cause}. Try to {action}.",
    "Let's split {s} into two steps: {action}, and then {action2}.",
    "Last time {s} came up we decided to {action}; that still looks right.",
    "Given that {detail}, I'd {action2} before anything else.",
    "If {outcome}, the next thing to check is whether {cause}.",
    "A budget of {number} is reasonable for {s} if you {action}.",
    "Here is a short plan: {action}, {action2}, and ask {person} to review it.",
    "That sounds like {cause}; it explains why {s} got worse {when}.",
    "You can skip the rest for now: just {action} for {s}.",
)  # fmt: skip
_DETAILS = (
    "the error says permission denied", "it only fails on Mondays", "the numbers look doubled",
    "version 3.2 was installed", "it works on my laptop but not on the server", "the cost went up by a third",
    "nobody owns it any more", "the deadline moved to Friday", "the logs are empty",
    "it started after the move", "we have two conflicting quotes", "the kids are home that week",
    "the warranty ran out in March", "the second attempt took twice as long", "there is a newer draft",
)  # fmt: skip
_ACTIONS = (
    "write down what changed", "roll back to the previous version", "ask for a second quote",
    "set a reminder for the morning", "measure it for a week", "read the official guide",
    "split the work into smaller pieces", "call the support line", "compare the last three months",
    "turn on more detailed logging", "book a slot with a specialist", "simplify the plan",
)  # fmt: skip
_CAUSES = (
    "a setting was overwritten", "two jobs run at the same time", "the estimate was too optimistic",
    "a cache keeps the old value", "the schedule is too tight", "the measurements are inconsistent",
    "the old credentials expired", "the first step was skipped",
)  # fmt: skip
_OUTCOMES = (
    "nothing changed", "it got slightly better", "it broke something else", "I got a different error",
    "it worked once and then stopped", "it took far longer than expected",
)  # fmt: skip
_WHEN = ("yesterday", "last night", "this morning", "on Tuesday", "after the update", "over the weekend")
_WHEN_NEXT = ("next week", "after the holidays", "on Monday", "at the end of the month")
_PEOPLE = ("Priya", "Tomas", "Amara", "my manager", "my partner", "the landlord", "Kenji", "Ines", "the accountant")

_QUESTIONS = (
    "What did we decide about {s}?", "Remind me what you said about {s}.", "Did we ever sort out {s}?",
    "What was the plan for {s}?", "Last time, what caused the trouble with {s}?", "{s} again: what did I try?",
    "What did {person} say about {s}?", "Any notes on {s} from {when}?",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Turn:
    """One generated message: who wrote it, its text, and the conversation it belongs to."""

    role: str
    text: str
    conversation: int


def _fill(template: str, rng: random.Random, subject: str) -> str:
    actions = rng.sample(_ACTIONS, 2)
    return template.format(
        s=subject,
        detail=rng.choice(_DETAILS),
        action=actions[0],
        action2=actions[1],
        cause=rng.choice(_CAUSES),
        outcome=rng.choice(_OUTCOMES),
        when=rng.choice(_WHEN),
        when_next=rng.choice(_WHEN_NEXT),
        person=rng.choice(_PEOPLE),
        number=rng.choice((5, 10, 15, 20, 30, 45, 50, 90, 120, 200, 250, 500, 1200)),
    )


def _specific(text: str, rng: random.Random) -> str:
    """Add the kind of detail that makes real messages unique: a reference, a figure, an aside."""
    roll = rng.random()
    if roll < 0.15:
        return f"{text} (ref #{rng.randint(1000, 99999)})"
    if roll < 0.25:
        return f"{text} It was about {rng.randint(2, 98)}% last time."
    if roll < 0.32:
        person = rng.choice(_PEOPLE)
        return f"{text} {person[0].upper()}{person[1:]} is in copy."
    return text


def conversation(rng: random.Random, number: int) -> list[Turn]:
    """Return one conversation: 2 to 14 messages on one subject, user and assistant in turn."""
    subject = rng.choice(_SUBJECTS[rng.choice(list(_SUBJECTS))])
    exchanges = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 7))
    turns: list[Turn] = []
    for exchange in range(exchanges):
        if exchange == 0:
            template = rng.choice(_USER_OPENERS)
        elif exchange == exchanges - 1 and exchanges > 2:
            template = rng.choice(_USER_CLOSERS)
        else:
            template = rng.choice(_USER_FOLLOWUPS)
        turns.append(Turn("user", _specific(_fill(template, rng, subject), rng), number))
        turns.append(Turn("assistant", _specific(_fill(rng.choice(_ASSISTANT_LINES), rng, subject), rng), number))
    return turns


def messages(count: int, *, seed: int = 20240601) -> list[Turn]:
    """Return ``count`` messages of one user's conversations, oldest first (the same for a seed)."""
    rng = random.Random(seed)
    found: list[Turn] = []
    number = 0
    while len(found) < count:
        found += conversation(rng, number)
        number += 1
    return found[:count]


def queries(count: int, *, seed: int = 7) -> list[str]:
    """Return ``count`` questions a user asks about past conversations (none of them is a stored message)."""
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        subject = rng.choice(_SUBJECTS[rng.choice(list(_SUBJECTS))])
        text = _fill(rng.choice(_QUESTIONS), rng, subject)
        found.append(text[0].upper() + text[1:])
    return found

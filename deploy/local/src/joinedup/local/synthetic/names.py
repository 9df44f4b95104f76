"""Name material the generator draws on besides faker: nicknames people go by, and the common names that
several different people in one city share."""

from __future__ import annotations

# How people shorten their names. Deliberately not the resolver's list: some of these it does not know.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Alexander": ("Alex", "Sandy"),
    "Andrew": ("Andy",),
    "Anthony": ("Tony",),
    "Benjamin": ("Ben",),
    "Catherine": ("Cath", "Kate"),
    "Charles": ("Charlie",),
    "Charlotte": ("Lottie", "Charlie"),
    "Christopher": ("Chris",),
    "Christine": ("Chris", "Chrissie"),
    "Daniel": ("Dan", "Danny"),
    "David": ("Dave",),
    "Deborah": ("Debbie",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Elizabeth": ("Liz", "Beth", "Lizzie"),
    "Frederick": ("Fred",),
    "Gareth": ("Gaz",),
    "Gerald": ("Gerry",),
    "Jacqueline": ("Jackie",),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Jennifer": ("Jen", "Jenny"),
    "Jessica": ("Jess",),
    "John": ("Jack", "Johnny"),
    "Jonathan": ("Jon",),
    "Joseph": ("Joe",),
    "Joshua": ("Josh",),
    "Kathleen": ("Kath",),
    "Kenneth": ("Ken",),
    "Leonard": ("Len",),
    "Margaret": ("Maggie", "Peggy"),
    "Matthew": ("Matt",),
    "Michael": ("Mike", "Mick"),
    "Nicholas": ("Nick",),
    "Patricia": ("Pat", "Trish"),
    "Peter": ("Pete",),
    "Philip": ("Phil",),
    "Rebecca": ("Becky", "Becca"),
    "Richard": ("Rich", "Ricky"),
    "Robert": ("Rob", "Bob", "Bobby"),
    "Samantha": ("Sam",),
    "Samuel": ("Sam",),
    "Stephen": ("Steve",),
    "Susan": ("Sue",),
    "Terence": ("Terry", "Tel"),
    "Thomas": ("Tom", "Tommy"),
    "Timothy": ("Tim",),
    "Victoria": ("Vicky", "Tori"),
    "William": ("Bill", "Will", "Billy"),
    "Abigail": ("Abbie",),
    "Amanda": ("Mandy",),
    "Pamela": ("Pam",),
    "Raymond": ("Ray",),
    "Stuart": ("Stu",),
    "Valerie": ("Val",),
    "Gillian": ("Gill",),
    "Kimberley": ("Kim",),
    "Leslie": ("Les",),
    "Ronald": ("Ron",),
}

# Full names common enough that a city has several different people called them.
COMMON_NAMES: tuple[tuple[str, str, str], ...] = (
    ("John", "Smith", "M"),
    ("David", "Jones", "M"),
    ("Sarah", "Williams", "F"),
    ("Mohammed", "Khan", "M"),
    ("Emma", "Taylor", "F"),
    ("James", "Brown", "M"),
    ("Paul", "Davies", "M"),
    ("Claire", "Wilson", "F"),
    ("Michael", "Evans", "M"),
    ("Lisa", "Thomas", "F"),
)

STREET_SUFFIXES = (
    "Road", "Street", "Avenue", "Lane", "Close", "Drive", "Grove", "Terrace", "Crescent", "Way", "Gardens",
    "Place", "Walk", "Court",
)  # fmt: skip

STREET_ABBREVIATIONS = {
    "Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Close": "Cl", "Drive": "Dr",
    "Terrace": "Tce", "Crescent": "Cres", "Gardens": "Gdns", "Place": "Pl", "Court": "Ct",
}  # fmt: skip

# Salford postcode districts: the demo's synthetic city.
POSTCODE_DISTRICTS = ("M3", "M5", "M6", "M7", "M27", "M28", "M30", "M38", "M44", "M50")
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TOWN = "Salford"

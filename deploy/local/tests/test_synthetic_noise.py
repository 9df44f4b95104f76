"""The synthetic population's noise is the kind a real record has: one slip is one slip."""

from __future__ import annotations

from joinedup.local.synthetic import NoiseLevel, generate_population


def test_a_slip_in_the_birth_year_leaves_the_day_and_the_month_as_they_were() -> None:
    noise = NoiseLevel.moderate().model_copy(update={"dob_typo": 1.0, "dob_day_month_swapped": 0.0})
    population = generate_population(5, 300, noise)
    born = {p.person_id: p.date_of_birth for p in population.persons}

    year_slips = 0
    for record in population.records:
        truth = born[population.truth[record.key]]
        if record.date_of_birth is None or record.date_of_birth.year == truth.year:
            continue
        if abs((record.date_of_birth - truth).days) <= 10:
            continue  # the other kind of slip: a few days off, which may cross a new year
        year_slips += 1
        if (truth.month, truth.day) == (2, 29):
            assert (record.date_of_birth.month, record.date_of_birth.day) in {(2, 29), (2, 28)}
        else:
            assert (record.date_of_birth.month, record.date_of_birth.day) == (truth.month, truth.day)

    assert year_slips > 50


def test_scaling_the_noise_scales_error_rates_but_not_the_share_of_records_with_a_former_surname() -> None:
    moderate = NoiseLevel.moderate()
    high = moderate.scaled(2.0, "high")

    assert high.old_family_name == moderate.old_family_name
    assert high.given_typo == 2 * moderate.given_typo
    assert high.dob_typo == 2 * moderate.dob_typo

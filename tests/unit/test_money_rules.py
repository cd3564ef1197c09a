"""The one list of currencies (chalicelib/currencies.py) is the maintained pycountry
database's, less the codes that are not money: an upgrade that adds or retires a code
fails here until the list follows."""

import pycountry

from chalicelib.currencies import ISO_4217, NOT_MONEY


def test_the_currency_list_is_pycountrys_less_testing_and_no_currency():
    maintained = {c.alpha_3 for c in pycountry.currencies}
    assert maintained - NOT_MONEY == ISO_4217
    assert {"CNY", "USD", "EUR", "JPY"} <= ISO_4217 and not ({"QQQ", "XTS", "XXX", "BGN"} & ISO_4217)

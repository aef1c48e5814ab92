"""The revenue to distribute, per month and tier, in one currency, as exact decimals: the premium
tier's subscriptions (an operator-entered figure, or a price per premium listener of the month) and
the free tier's ad revenue (operator-entered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from backbeat.errors import InvalidInput
from backbeat.royalties.money import cents_to_str, parse_amount
from backbeat.royalties.months import iso, parse_month
from backbeat.royalties.store import RoyaltiesStore

TIERS = ("free", "premium")


@dataclass(frozen=True)
class TierRevenue:
    """Either a fixed amount (cents) or a price per listener (cents) that the run multiplies."""

    tier: str
    amount: int | None = None
    price_per_listener: int | None = None

    def resolve(self, listeners: int) -> int:
        if self.amount is not None:
            return self.amount
        assert self.price_per_listener is not None
        return self.price_per_listener * listeners


def set_revenue(
    store: RoyaltiesStore,
    month: str,
    currency: str,
    premium: str | None = None,
    premium_price: str | None = None,
    ads: str | None = None,
) -> dict[str, object]:
    """Record the month's revenue (the tiers given; others keep theirs)."""
    parse_month(month)
    if premium is not None and premium_price is not None:
        raise InvalidInput("give the premium revenue either as --premium or as --premium-price, not both")
    if premium is None and premium_price is None and ads is None:
        raise InvalidInput("nothing to set: give --premium, --premium-price and/or --ads")
    now = iso(datetime.now(UTC))
    written: dict[str, object] = {"month": month, "currency": currency}
    base = {"month": month, "currency": currency, "updatedAt": now}
    if premium is not None:
        amount = cents_to_str(parse_amount(premium, "--premium"))
        store.put({"pk": f"REVENUE#{month}", "sk": "TIER#premium", "tier": "premium", "amount": amount, **base})
        written["premium"] = amount
    if premium_price is not None:
        price = cents_to_str(parse_amount(premium_price, "--premium-price"))
        store.put(
            {"pk": f"REVENUE#{month}", "sk": "TIER#premium", "tier": "premium", "pricePerListener": price, **base}
        )
        written["premiumPricePerListener"] = price
    if ads is not None:
        amount = cents_to_str(parse_amount(ads, "--ads"))
        store.put({"pk": f"REVENUE#{month}", "sk": "TIER#free", "tier": "free", "amount": amount, **base})
        written["ads"] = amount
    return written


def month_revenue(store: RoyaltiesStore, month: str) -> dict[str, TierRevenue]:
    """The month's revenue per tier; none set is an error naming the command that sets it."""
    revenue: dict[str, TierRevenue] = {}
    for item in store.query(f"REVENUE#{month}", "TIER#"):
        tier = str(item["tier"])
        if "amount" in item:
            revenue[tier] = TierRevenue(tier, amount=parse_amount(str(item["amount"])))
        else:
            revenue[tier] = TierRevenue(tier, price_per_listener=parse_amount(str(item["pricePerListener"])))
    if not revenue:
        raise InvalidInput(
            f"no revenue is set for {month}: set it first with "
            f"`backbeat royalties revenue set {month} --premium AMOUNT --ads AMOUNT`"
        )
    return revenue

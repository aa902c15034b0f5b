"""The structured output of the receipts feature: numbers, a date, a list, a nested object, optional fields."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, Field


class LineItem(BaseModel):
    """One line of the receipt."""

    name: str = Field(description="The item as printed, without the price")
    quantity: int = Field(description="How many were bought (1 when not printed)")
    unit_price: float = Field(description="Price of one item, in the receipt's currency")


class Store(BaseModel):
    """Where the receipt was issued."""

    city: str
    country: Literal["FR", "DE", "GB", "US", "IT"]


class Receipt(BaseModel):
    """What the model reads off a receipt."""

    merchant: str = Field(description="The shop's name as printed at the top")
    date: datetime.date = Field(description="The purchase date")
    currency: Literal["EUR", "GBP", "USD"]
    total: float = Field(description="The amount paid, tip included")
    tip: float | None = Field(description="The tip, or null when there is none")
    payment: Literal["card", "cash", "other"]
    store: Store
    items: list[LineItem]

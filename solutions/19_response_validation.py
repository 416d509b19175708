"""Solution to notebook 19's exercise: a pydantic model that validates a refund answer.

Field constraints say what a JSON schema can say (a positive amount, one of three currencies, an
id pattern, a non-empty reason); a model validator checks what involves two fields (a refund is
at most the order's total), and raises ``ValueError`` so pydantic reports it with the rest.
"""

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class Refund(BaseModel):
    """A refund the model proposes for one order."""

    order_id: str = Field(pattern=r"^ORD-\d{6}$")
    amount: float = Field(gt=0)
    order_total: float = Field(gt=0)
    currency: Literal["EUR", "USD", "GBP"]
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _at_most_the_total(self) -> Self:
        if self.amount > self.order_total:
            raise ValueError("amount must not exceed order_total")
        return self

"""Month-end payroll: pay plan, inputs, statements, explanations and closing a month.

DESIGN.md "Month-end payroll": pay = base + performance pay x score + commission +
awards + allowances, for the people on the roster, from the exact calls in ClickHouse and
a versioned plan.
"""

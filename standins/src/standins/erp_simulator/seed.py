"""Seed data of the simulated ERP: customers (some allowed the customer center, some not), their invoices and the
contact persons the ERP knows. Inserted at start when missing; tests add their own customers at runtime
(``POST /admin/customers``) with fresh numbers, so runs sharing a database never collide. Their prices (and the
default price list every new customer gets) are tables in :mod:`.prices`.

| customer | allowed | invoices                        | contacts |
|----------|---------|---------------------------------|----------|
| 10001    | yes     | R-10001-1, R-10001-2, R-10001-3 | 2        |
| 10002    | yes     | R-10002-1, R-10002-2            | 1        |
| 10003    | no      | R-10003-1                       | 1        |
| 10004    | yes     | R-10004-1                       | 2 (one without a usable e-mail address) |
| 10005    | yes     | R-10005-1, R-10005-2            | 0        |
| 10006    | no      | R-10006-1                       | 0        |
"""

from __future__ import annotations

from typing import Any


def _address(name: str, street: str, postal_code: str, city: str, country: str = "DE") -> dict[str, Any]:
    return {"name": name, "street": street, "postal_code": postal_code, "city": city, "country": country}


SEED_CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_number": "10001",
        "name": "Muster Maschinenbau GmbH",
        "customer_center_allowed": True,
        "invoices": ["R-10001-1", "R-10001-2", "R-10001-3"],
        "billing_address": _address("Muster Maschinenbau GmbH", "Industriestr. 12", "70565", "Stuttgart"),
        "delivery_addresses": [
            _address("Muster Maschinenbau GmbH, Werk 2", "Hafenweg 3", "68159", "Mannheim"),
        ],
        "vat_id": "DE811234567",
        "currency": "EUR",
        "contacts": [
            {
                "contact_id": "10001-1",
                "email": "anna.muster@muster-maschinenbau.example",
                "first_name": "Anna",
                "last_name": "Muster",
                "phone": "+49 711 123450",
            },
            {
                "contact_id": "10001-2",
                "email": "jonas.becker@muster-maschinenbau.example",
                "first_name": "Jonas",
                "last_name": "Becker",
                "phone": None,
            },
        ],
    },
    {
        "customer_number": "10002",
        "name": "Beispiel Handel AG",
        "customer_center_allowed": True,
        "invoices": ["R-10002-1", "R-10002-2"],
        "billing_address": _address("Beispiel Handel AG", "Marktplatz 1", "20095", "Hamburg"),
        "delivery_addresses": [],
        "vat_id": "DE822345678",
        "currency": "EUR",
        "contacts": [
            {
                "contact_id": "10002-1",
                "email": "einkauf@beispiel-handel.example",
                "first_name": "Eva",
                "last_name": "Klein",
                "phone": None,
            }
        ],
    },
    {
        "customer_number": "10003",
        "name": "Gesperrt & Söhne KG",
        "customer_center_allowed": False,
        "invoices": ["R-10003-1"],
        "billing_address": _address("Gesperrt & Söhne KG", "Bahnhofstr. 7", "04109", "Leipzig"),
        "delivery_addresses": [],
        "vat_id": None,
        "currency": "EUR",
        "contacts": [
            {"contact_id": "10003-1", "email": "info@gesperrt.example", "first_name": "Karl", "last_name": "Gesperrt"}
        ],
    },
    {
        "customer_number": "10004",
        "name": "Alpen Technik GmbH",
        "customer_center_allowed": True,
        "invoices": ["R-10004-1"],
        "billing_address": _address("Alpen Technik GmbH", "Bergstr. 5", "6020", "Innsbruck", "AT"),
        "delivery_addresses": [],
        "vat_id": "ATU12345678",
        "currency": "EUR",
        "contacts": [
            {
                "contact_id": "10004-1",
                "email": "office@alpen-technik.example",
                "first_name": "Lena",
                "last_name": "Huber",
            },
            {"contact_id": "10004-2", "email": "keine Adresse", "first_name": "Sepp", "last_name": "Moser"},
        ],
    },
    {
        "customer_number": "10005",
        "name": "Nordlicht Logistics Ltd",
        "customer_center_allowed": True,
        "invoices": ["R-10005-1", "R-10005-2"],
        "billing_address": _address("Nordlicht Logistics Ltd", "1 Harbour Road", "EH6 6LX", "Edinburgh", "GB"),
        "delivery_addresses": [],
        "vat_id": None,
        "currency": "GBP",
        "contacts": [],
    },
    {
        "customer_number": "10006",
        "name": "Ohne Freigabe GmbH",
        "customer_center_allowed": False,
        "invoices": ["R-10006-1"],
        "billing_address": None,
        "delivery_addresses": [],
        "vat_id": None,
        "currency": "EUR",
        "contacts": [],
    },
]

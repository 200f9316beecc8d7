"""Seed data of the simulated ERP (customers, invoices, contacts): to come with a later issue."""

"""The audit trail: an append-only record of every staff action that moves money or changes the
books (audit.services.audit_record is the only writer)."""

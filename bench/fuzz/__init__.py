"""`make fuzz`: property-based fuzzing of the webhook front door and the outbound decoder (see __main__)."""

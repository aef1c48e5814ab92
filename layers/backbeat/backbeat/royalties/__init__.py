"""Monthly royalties: rights holders and their splits (`splits`), the revenue to distribute
(`revenue`), the billable plays counted over the event lake (`counting`, one SQL file), the exact
money (`money`, `allocation`), the statements (`statements`) and payments (`store`), and the
monthly run that ties them together (`monthly`). Money is integer cents (and micro-units for the
user-centric intermediate step), never floats; every tier's payments sum to its pool to the cent.
"""

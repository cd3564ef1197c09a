"""Push: the phones of each user and what reaches their lock screens. Owns the device
registry (one SNS platform endpoint per app installation, kept true to Amazon's token
management guidance), the push preferences (muted kinds, quiet hours in tenant time), the
payload of each platform, the senders behind one small interface, and the fan-out of every
new information-center message to its recipient's enabled devices (a stream consumer).
Imports ``inbox``'s message model and ``org`` (the tenant's zone), nothing above.
"""

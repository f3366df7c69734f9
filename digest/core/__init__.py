"""The rules of the house, pure: the words the domain is spoken in, schedules, who gets
what in a send, which items an edition shows, when a failure is tried again, signed links
and the like. Nothing here reads a setting, a file, a clock of its own or a database."""

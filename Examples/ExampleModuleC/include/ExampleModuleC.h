/* The example C module exports its functions; it has no public header of its own. */

# SPDX-License-Identifier: MIT
"""What each clause asks, in a few words: the second cell of a clause's row
in the reports and the index, so that "R-29: not offered" needs no copy of
the spec beside it.

D-n and R-n number the device's and the driver's normative statements of
the balloon's section (virtio 1.2 §5.5; the same text in 1.3 and 1.4) in
the spec's order, legacy ones included; a sentence with two duties (R-16)
keeps one number. Stats' "multiple of 6 bytes" (an erratum: entries are 10)
and "MAY supply a subset" are not numbered; R-20 and R-22 cover them. § is
a section of the spec outside §5.5 that a test asserts on the balloon's
transport. "D: words" and "R: words" rows name themselves.
"""

TITLES = {
    "D-1": "may fail FEATURES_OK when MUST_TELL_HOST is refused",
    "D-2": "legacy: serves a driver without MUST_TELL_HOST",
    "D-3": "may change an inflated page before acking it",
    "D-4": "MUST_TELL_HOST: may change a page until its deflate is acked",
    "D-5": "legacy: uses actual only once its last byte is written",
    "D-6": "stats: ignores tags it does not know",
    "D-7": "stats: takes entries in any order",
    "D-8": "stats, legacy: ignores the first buffer",
    "D-9": "hint: sets STOP when it cannot use hints",
    "D-10": "hint: reuses no id before the driver's STOP",
    "D-11": "hint: ignores pages under an id not current",
    "D-12": "hint: may change a hinted page not written since its id",
    "D-13": "hint: changes no hinted page after DONE",
    "D-14": "hint: sets DONE when it needs the pages no more",
    "D-15": "poison: may take poison_val as a hint",
    "D-16": "reporting without poison: may change a page before acking",
    "D-17": "reporting with poison: changes a page to poison_val or not at all",
    "R-1": "should accept MUST_TELL_HOST",
    "R-2": "should clear PAGE_POISON unless it poisons deflated pages",
    "R-3": "no reporting without poison if it needs page contents kept",
    "R-4": "should inflate while num_pages is above actual",
    "R-5": "may use balloon pages while num_pages is below actual",
    "R-6": "may inflate while num_pages is at least actual",
    "R-7": "no deflate on OOM: uses no balloon page unless num_pages < actual",
    "R-8": "deflate on OOM: may use balloon pages for the system's sake",
    "R-9": "announces the pages it takes back on the deflateq",
    "R-10": "MUST_TELL_HOST: uses a deflated page only after the ack",
    "R-11": "no MUST_TELL_HOST: may reuse a page before the ack",
    "R-12": "uses no page between inflating it and the ack",
    "R-13": "deflates no page before its inflate is acked",
    "R-14": "updates actual after changing the balloon",
    "R-15": "may update actual once after several changes",
    "R-16": "legacy: ignores used lengths, writes actual in one go",
    "R-17": "stats: at most one buffer available",
    "R-18": "stats: a buffer once the device is initialised",
    "R-19": "stats: a new buffer each time the device uses one",
    "R-20": "stats: an entry for each stat it supports",
    "R-21": "stats: may send entries in any order",
    "R-22": "stats: the same stats in every buffer",
    "R-23": "hint: commands are 4-byte out buffers",
    "R-24": "hint: starts a run with the current id",
    "R-25": "hint: one command with the current id, not two",
    "R-26": "hint: should send pages while the id is 2 or more",
    "R-27": "hint: should stop sending pages on STOP or DONE",
    "R-28": "hint: ends a run with STOP",
    "R-29": "hint: may take hinted pages back before the device uses them",
    "R-30": "hint: treats hinted pages as uninitialised",
    "R-31": "hint: initialises a hinted page taken back before DONE",
    "R-32": "hint: should take every hinted page back on DONE",
    "R-33": "poison: fills deflated pages with poison_val",
    "R-34": "poison: writes poison_val before DRIVER_OK",
    "R-35": "poison: leaves poison_val alone while DRIVER_OK",
    "R-36": "reporting without poison: reported pages are uninitialised",
    "R-37": "reporting with poison: poisons pages before reporting them",
    "R-38": "reporting: uses no reported page before the ack",
    "R-39": "reporting: may start any time after DRIVER_OK",
    "R-40": "reporting: should report large pages",
    "R-41": "reporting: should not touch reported pages",
    "§2.4": "device reset",
    "§2.7.5": "descriptor table: chains",
    "§2.7.8": "used ring: used lengths",
    "§4.1.4.5": "PCI: ISR status",
    "§4.1.4.9": "PCI: configuration access window",
    "§5.5.1": "the balloon's virtqueues",
    "§5.5.2": "the balloon's feature bits",
    "§5.5.3": "the balloon's configuration layout",
}


def title(row):
    """What ROW asks; "" for a row that names itself or is unknown."""
    return TITLES.get(row, "")

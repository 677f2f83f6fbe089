"""The text-mode menu of ``kas menu`` (CLI-192), drawn with curses.

The flow and keys follow the newt menu of kas: one list of entries per
menu page, arrow keys (or j/k) to move, Space/Enter to toggle a bool or to
open a sub-menu, a choice or the entry dialog of a string/int/hex symbol,
and a row of buttons reachable by hotkey or by Tab: Build (B),
Save & Exit (S), Exit (E, also ESC on the top page), Help (h) and, in
sub-menus, Return (ESC).  With the effective no-color state (CLI-012) no
colors are used at all.

``run_menu`` returns what the user chose: "build", "save" or "exit".
"""

import contextlib
import curses
import sys
import textwrap

import kconfiglib

from kas.errors import KasUserError

BUILD, SAVE, EXIT = "build", "save", "exit"
RETURN = "return"       # leave a sub-menu

BUTTONS = (("Build", "b", BUILD), ("Save & Exit", "s", SAVE), ("Exit", "e", EXIT),
           ("Help", "h", "help"))
RETURN_BUTTON = ("Return", None, RETURN)
ESC = "\x1b"
ENTER_KEYS = ("\n", "\r", curses.KEY_ENTER)
BACKSPACE_KEYS = ("\x7f", "\x08", curses.KEY_BACKSPACE)
HINT = "Arrows/j/k: move  Space/Enter: select  Tab: buttons  ESC: return/exit"


def run_menu(kconf, no_color):
    """Show the menu until the user leaves it; the screen is restored after."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise KasUserError("kas menu needs a terminal: stdin and stdout must be a tty")
    try:
        screen = curses.initscr()
    except curses.error as err:
        raise KasUserError(f"Cannot run the menu on this terminal: {err}") from None
    # Not curses.wrapper: it starts colors, which the monochrome UI must not.
    try:
        curses.noecho()
        curses.cbreak()
        return Menu(screen, kconf, no_color).run()
    finally:
        curses.echo()
        curses.nocbreak()
        curses.endwin()


# --- what an entry shows and does -------------------------------------------------


def prompt_shown(node):
    return bool(node.prompt) and kconfiglib.expr_value(node.prompt[1]) > 0


def opens_page(node):
    """A menu, or a ``menuconfig`` symbol: its children are on their own page."""
    return node.item == kconfiglib.MENU or (node.is_menuconfig
                                           and isinstance(node.item, kconfiglib.Symbol))


def page_entries(menu_node):
    """(node, depth) of the entries shown on the page of ``menu_node``."""
    entries = []

    def add(node, depth):
        while node is not None:
            shown = prompt_shown(node)
            if shown:
                entries.append((node, depth))
            if (node.list is not None and not opens_page(node)
                    and not isinstance(node.item, kconfiglib.Choice)):
                add(node.list, depth + 1 if shown else depth)
            node = node.next

    add(menu_node.list, 0)
    return entries


def is_value_symbol(sym):
    return sym.orig_type in (kconfiglib.STRING, kconfiglib.INT, kconfiglib.HEX)


def bool_mark(sym):
    if len(sym.assignable) <= 1:        # fixed, e.g. by a select
        return "-*-" if sym.tri_value == 2 else "---"
    return "[*]" if sym.tri_value == 2 else "[ ]"


def entry_label(node):
    item = node.item
    text = node.prompt[0]
    if item == kconfiglib.MENU:
        return f"    {text}  --->"
    if item == kconfiglib.COMMENT:
        return f"    *** {text} ***"
    if isinstance(item, kconfiglib.Choice):
        selected = item.selection
        chosen = ""
        if selected is not None and selected.nodes[0].prompt:
            chosen = f" ({selected.nodes[0].prompt[0]})"
        return f"    {text}{chosen}  --->"
    if is_value_symbol(item):
        return f"({item.str_value}) {text}"
    arrow = "  --->" if node.is_menuconfig else ""
    return f"{bool_mark(item)} {text}{arrow}"


def toggle(sym):
    new = 0 if sym.tri_value == 2 else 2
    if new in sym.assignable:
        sym.set_value(new)


def help_text(node):
    item = node.item
    lines = []
    if isinstance(item, (kconfiglib.Symbol, kconfiglib.Choice)):
        if item.name:
            lines.append(f"Symbol: {item.name} [={item.str_value}]")
        lines.append(f"Type: {kconfiglib.TYPE_TO_STR[item.orig_type]}")
        lines.append("")
    text = getattr(node, "help", None) or "There is no help available for this option."
    lines.extend(text.splitlines())
    return lines


def check_entry_value(sym, text):
    """None if ``text`` is a valid value of ``sym``, else the reason."""
    if sym.orig_type == kconfiglib.STRING:
        return None
    base = 16 if sym.orig_type == kconfiglib.HEX else 10
    kind = "hex" if base == 16 else "integer"
    digits = text[2:] if base == 16 and text.lower().startswith("0x") else text
    try:
        value = int(digits, base)
    except ValueError:
        return f"'{text}' is not a valid {kind} value"
    if base == 16 and digits.startswith(("-", "+")):
        return f"'{text}' is not a valid {kind} value"
    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            low_value, high_value = int(low.str_value, base), int(high.str_value, base)
            if not low_value <= value <= high_value:
                return f"{text} is outside the range {low.str_value} to {high.str_value}"
            break
    return None


# --- the screen -------------------------------------------------------------------


class Menu:
    def __init__(self, screen, kconf, no_color):
        self.screen = screen
        self.kconf = kconf
        self.color = not no_color and curses.has_colors()
        self.attrs = self._attributes()
        if hasattr(curses, "set_escdelay"):
            curses.set_escdelay(25)     # ESC alone must not feel slow
        with contextlib.suppress(curses.error):
            curses.curs_set(0)
        screen.keypad(True)

    def _attributes(self):
        """Screen, window, selection and title attributes (monochrome: no colors)."""
        if not self.color:
            return {"screen": curses.A_NORMAL, "window": curses.A_NORMAL,
                    "selected": curses.A_REVERSE, "title": curses.A_BOLD,
                    "error": curses.A_BOLD}
        curses.start_color()
        curses.init_pair(1, curses.COLOR_WHITE, curses.COLOR_BLUE)
        curses.init_pair(2, curses.COLOR_BLACK, curses.COLOR_WHITE)
        curses.init_pair(3, curses.COLOR_WHITE, curses.COLOR_RED)
        curses.init_pair(4, curses.COLOR_RED, curses.COLOR_WHITE)
        return {"screen": curses.color_pair(1), "window": curses.color_pair(2),
                "selected": curses.color_pair(3) | curses.A_BOLD,
                "title": curses.color_pair(1) | curses.A_BOLD,
                "error": curses.color_pair(4) | curses.A_BOLD}

    def run(self):
        return self.show_page(self.kconf.top_node, top=True)

    # ---- a page

    def show_page(self, menu_node, top):
        """Run one page; returns BUILD/SAVE/EXIT, or None for Return."""
        page = Page(menu_node, top)
        while True:
            page.refresh_entries()
            self.draw_page(page)
            action = self.handle_page_key(page, self.screen.get_wch())
            if action == RETURN:
                return None
            if action in (BUILD, SAVE, EXIT):
                return action

    def handle_page_key(self, page, key):
        hotkey = key.lower() if isinstance(key, str) else None
        for _label, letter, action in page.buttons:
            if letter is not None and hotkey == letter:
                return self.button_action(page, action)
        if key == ESC:
            return EXIT if page.top else RETURN
        if key in ("\t", curses.KEY_RIGHT) and (key == "\t" or page.focus >= 0):
            page.focus = page.focus + 1 if page.focus + 1 < len(page.buttons) else -1
        elif key in (curses.KEY_BTAB, curses.KEY_LEFT) and (
                key == curses.KEY_BTAB or page.focus >= 0):
            page.focus = page.focus - 1 if page.focus > -1 else len(page.buttons) - 1
        elif page.focus >= 0 and (key in ENTER_KEYS or key == " "):
            return self.button_action(page, page.buttons[page.focus][2])
        elif key in (curses.KEY_UP, "k"):
            page.move(-1)
        elif key in (curses.KEY_DOWN, "j"):
            page.move(1)
        elif key == curses.KEY_PPAGE:
            page.move(-self.list_height())
        elif key == curses.KEY_NPAGE:
            page.move(self.list_height())
        elif key in ENTER_KEYS or key == " ":
            return self.activate(page, open_page=(key != " "))
        return None

    def button_action(self, page, action):
        if action == "help":
            node = page.current()
            if node is not None:
                self.show_text(node.prompt[0], help_text(node))
            return None
        return action

    def activate(self, page, open_page):
        """Space/Enter on an entry."""
        node = page.current()
        if node is None:
            return None
        item = node.item
        if item == kconfiglib.MENU or (open_page and opens_page(node)):
            return self.show_page(node, top=False) or None
        if isinstance(item, kconfiglib.Choice):
            self.choose(node)
        elif isinstance(item, kconfiglib.Symbol):
            if is_value_symbol(item):
                self.edit(node)
            else:
                toggle(item)
        return None

    def list_height(self):
        height, _ = self.screen.getmaxyx()
        return max(1, height - 6)

    def draw_page(self, page):
        screen = self.screen
        height, width = screen.getmaxyx()
        screen.bkgd(" ", self.attrs["screen"])
        screen.erase()
        title = self.kconf.mainmenu_text or "kas menu"
        self.put(0, max(0, (width - len(title)) // 2), title, self.attrs["title"])
        if not page.top:
            self.put(1, 1, page.menu_node.prompt[0], self.attrs["title"])
        rows = self.list_height()
        page.scroll_to_selection(rows)
        for row in range(rows):
            self.put(2 + row, 1, " " * (width - 2), self.attrs["window"])
        for row, (node, depth) in enumerate(page.entries[page.top_row:page.top_row + rows]):
            index = page.top_row + row
            attr = self.attrs["window"]
            if index == page.selected:
                attr = self.attrs["selected"] if page.focus < 0 else attr | curses.A_UNDERLINE
            label = "  " * depth + entry_label(node)
            self.put(2 + row, 2, label.ljust(width - 4)[:width - 4], attr)
        if not page.entries:
            self.put(2, 2, "(no visible entries)", self.attrs["window"])
        self.draw_buttons(page.buttons, page.focus, height - 3)
        self.put(height - 1, 1, HINT, self.attrs["screen"])
        screen.refresh()

    def draw_buttons(self, buttons, focus, row):
        column = 2
        for index, (label, _letter, _action) in enumerate(buttons):
            text = f"< {label} >"
            attr = self.attrs["selected"] if index == focus else self.attrs["window"]
            self.put(row, column, text, attr)
            column += len(text) + 2

    def put(self, row, column, text, attr):
        """addstr clipped to the screen (curses fails on the last cell)."""
        height, width = self.screen.getmaxyx()
        if row >= height or column >= width:
            return
        text = text[:max(0, width - column - (1 if row == height - 1 else 0))]
        with contextlib.suppress(curses.error):
            self.screen.addstr(row, column, text, attr)

    # ---- dialogs

    def dialog_box(self, title, lines, height=None):
        """Draw a framed box with ``lines``; returns (top row, left column, width)."""
        screen_height, screen_width = self.screen.getmaxyx()
        width = min(screen_width - 4, max([len(title) + 4, 40] + [len(x) + 4 for x in lines]))
        height = height or len(lines) + 2
        height = min(height, screen_height - 2)
        top = max(0, (screen_height - height) // 2)
        left = max(0, (screen_width - width) // 2)
        attr = self.attrs["window"]
        for row in range(height):
            self.put(top + row, left, " " * width, attr)
        self.put(top, left, "+" + "-" * (width - 2) + "+", attr)
        self.put(top + height - 1, left, "+" + "-" * (width - 2) + "+", attr)
        for row in range(1, height - 1):
            self.put(top + row, left, "|", attr)
            self.put(top + row, left + width - 1, "|", attr)
        self.put(top, left + 2, f" {title} "[:width - 4], attr | curses.A_BOLD)
        for row, line in enumerate(lines[:height - 2]):
            self.put(top + 1 + row, left + 2, line[:width - 4], attr)
        return top, left, width

    def show_text(self, title, lines):
        """Help: a text box closed by any key."""
        width = max(20, self.screen.getmaxyx()[1] - 8)
        wrapped = [part for line in lines
                   for part in (textwrap.wrap(line, width) or [""])]
        self.dialog_box(title, wrapped + ["", "Press any key to return"])
        self.screen.refresh()
        self.screen.get_wch()

    def edit(self, node):
        """Entry dialog of a string/int/hex symbol; invalid input keeps it open."""
        sym = node.item
        kind = kconfiglib.TYPE_TO_STR[sym.orig_type]
        field = LineEditor(sym.str_value)
        message = ""
        while True:
            self.draw_page_behind()
            top, left, width = self.dialog_box(
                node.prompt[0], [f"Enter a value ({kind}):", "", "", "",
                                 "Enter: OK   ESC: Cancel"])
            self.put(top + 3, left + 2, field.visible(width - 4).ljust(width - 4),
                     self.attrs["selected"])
            if message:
                self.put(top + 4, left + 2, message[:width - 4], self.attrs["error"])
            self.screen.refresh()
            key = self.screen.get_wch()
            if key == ESC:
                return
            if key in ENTER_KEYS:
                message = check_entry_value(sym, field.text) or ""
                if not message:
                    sym.set_value(field.text)
                    return
            else:
                field.handle(key)

    def choose(self, node):
        """Radio list of a choice; Space/Enter selects, ESC cancels."""
        choice = node.item
        members = [child for child, _ in page_entries(node)
                   if isinstance(child.item, kconfiglib.Symbol)]
        if not members:
            return
        selected = next((i for i, m in enumerate(members) if m.item is choice.selection), 0)
        while True:
            self.draw_page_behind()
            lines = [("(X) " if m.item is choice.selection else "( ) ") + m.prompt[0]
                     for m in members]
            top, left, width = self.dialog_box(
                node.prompt[0], lines + ["", "Space/Enter: select   ESC: cancel"])
            self.put(top + 1 + selected, left + 2, lines[selected].ljust(width - 4),
                     self.attrs["selected"])
            self.screen.refresh()
            key = self.screen.get_wch()
            if key == ESC:
                return
            if key in (curses.KEY_UP, "k"):
                selected = max(0, selected - 1)
            elif key in (curses.KEY_DOWN, "j"):
                selected = min(len(members) - 1, selected + 1)
            elif key in ENTER_KEYS or key == " ":
                members[selected].item.set_value(2)
                return

    def draw_page_behind(self):
        """Dialogs are drawn over a plain background."""
        self.screen.bkgd(" ", self.attrs["screen"])
        self.screen.erase()


class Page:
    """The entries of one menu page, the selection and the focus."""

    def __init__(self, menu_node, top):
        self.menu_node = menu_node
        self.top = top
        self.buttons = BUTTONS + (() if top else (RETURN_BUTTON,))
        self.entries = []
        self.selected = 0
        self.top_row = 0
        self.focus = -1         # -1: the list, else the index of a button

    def refresh_entries(self):
        """Visibility changes with the values: keep the selected node if shown."""
        current = self.current()
        self.entries = page_entries(self.menu_node)
        nodes = [node for node, _ in self.entries]
        if current in nodes:
            self.selected = nodes.index(current)
        self.selected = max(0, min(self.selected, len(self.entries) - 1))

    def current(self):
        if 0 <= self.selected < len(self.entries):
            return self.entries[self.selected][0]
        return None

    def move(self, step):
        self.focus = -1         # moving in the list takes the focus back to it
        self.selected = max(0, min(self.selected + step, len(self.entries) - 1))

    def scroll_to_selection(self, rows):
        if self.selected < self.top_row:
            self.top_row = self.selected
        elif self.selected >= self.top_row + rows:
            self.top_row = self.selected - rows + 1


class LineEditor:
    """A one-line text field: insert, Backspace/Delete, Left/Right/Home/End."""

    def __init__(self, text):
        self.text = text
        self.cursor = len(text)

    def handle(self, key):
        if key in BACKSPACE_KEYS:
            if self.cursor > 0:
                self.text = self.text[:self.cursor - 1] + self.text[self.cursor:]
                self.cursor -= 1
        elif key == curses.KEY_DC:
            self.text = self.text[:self.cursor] + self.text[self.cursor + 1:]
        elif key == curses.KEY_LEFT:
            self.cursor = max(0, self.cursor - 1)
        elif key == curses.KEY_RIGHT:
            self.cursor = min(len(self.text), self.cursor + 1)
        elif key in (curses.KEY_HOME, "\x01"):
            self.cursor = 0
        elif key in (curses.KEY_END, "\x05"):
            self.cursor = len(self.text)
        elif key == "\x15":     # Ctrl-U: clear the field
            self.text, self.cursor = "", 0
        elif isinstance(key, str) and key.isprintable():
            self.text = self.text[:self.cursor] + key + self.text[self.cursor:]
            self.cursor += len(key)

    def visible(self, width):
        """The part of the text around the cursor, with the cursor shown as _."""
        shown = self.text[:self.cursor] + "_" + self.text[self.cursor:]
        start = max(0, self.cursor + 1 - width)
        return shown[start:start + width]

# The front end (web/: one HTML template, its CSS and JS) is compiled into
# libstoat as byte arrays, so `stoat report` and `stoat serve` carry their
# page and need no files at run time. web/embed.c is the generator.
# This file is included before the top Makefile names its first target.
.DEFAULT_GOAL := all

# data/attack-techniques.tsv: technique names and tactics for the ATT&CK matrix
WEB_SRC := web/index.html web/app.css web/app.js data/attack-techniques.tsv
WEB_DIR := $(BUILD)/gen
WEB_GEN := $(WEB_DIR)/web_assets.c
WEB_OBJ := $(WEB_DIR)/web_assets.o
LIB_OBJ += $(WEB_OBJ)

$(WEB_DIR)/embed: web/embed.c
	@mkdir -p $(@D)
	$(CC) -O1 -o $@ $<

$(WEB_GEN): $(WEB_SRC) $(WEB_DIR)/embed
	$(WEB_DIR)/embed $@ $(WEB_SRC)

$(WEB_OBJ): $(WEB_GEN)
	$(CC) $(CFLAGS) -Wno-overlength-strings -c $< -o $@

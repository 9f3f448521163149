/*
 * mail.h - plain-text e-mail over SMTP with libcurl, from templates an
 * operator can change.
 *
 * A template is a file "<dir>/<name>.txt": a first line "Subject: ...", an
 * empty line, then the body.  "{{key}}" is replaced by the value of `key`
 * in a JSON object (strings and numbers); an unknown key is an error, so
 * a typo in an edited template is noticed instead of mailing "{{nme}}".
 * The directory is cfg->mail_templates, else "deploy/mail".
 *
 * Sending is meant for the job worker: a failure is an error the job
 * queue retries, so an SMTP outage delays mail and loses none.
 */
#ifndef CLEARANCE_MAIL_H
#define CLEARANCE_MAIL_H

#include <jansson.h>
#include "clearance/rc.h"
#include "clearance/config.h"

#define CLR_MAIL_DEFAULT_DIR "deploy/mail"
#define CLR_MAIL_DEFAULT_FROM "clearance@localhost"

/*
 * Renders template `name` ([a-z0-9_]{1,64}) from dir with vars (borrowed
 * object, may be NULL).  *subject and *body are new (free()).  Control
 * characters in values are dropped from the subject, so a value cannot
 * add a header.  No such template, unknown key, malformed file:
 * CLR_ERR_PARAM (e says which).
 */
enum clr_rc clr_mail_render(const char *dir, const char *name, const json_t *vars, char **subject,
			    char **body, struct clr_err *e) CLR_MUSTCHECK;

/* 1 if addr looks like a deliverable address (no spaces, CR/LF, <>, one '@'). */
int clr_mail_addr_valid(const char *addr);

/*
 * Sends one message to `to` through cfg->smtp_url (smtp:// or smtps://)
 * from cfg->mail_from (else CLR_MAIL_DEFAULT_FROM), with the configured
 * HTTP timeouts.  No SMTP_URL: CLR_ERR_PARAM.  Server down or refusing:
 * CLR_ERR_UPSTREAM / CLR_ERR_TIMEOUT with e->msg (no message content).
 */
enum clr_rc clr_mail_send(const struct clr_config *cfg, const char *to, const char *subject,
			  const char *body, struct clr_err *e) CLR_MUSTCHECK;

/* Renders template `name` from the configured directory and sends it. */
enum clr_rc clr_mail_send_template(const struct clr_config *cfg, const char *to, const char *name,
				   const json_t *vars, struct clr_err *e) CLR_MUSTCHECK;

#endif

from flask import Flask


def init_app(app: Flask) -> None:
    from engage.subscriptions import consent, desk_views, embed, views
    from engage.subscriptions.forms import DIGEST_CHOICES

    app.register_blueprint(views.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(desk_views.bp)

    @app.context_processor
    def _signup():
        # Lazy: the query runs only on pages that render a sign-up box.
        return {
            "signup_topics": views.topic_choices,
            "digest_choices": DIGEST_CHOICES,
            "signup_consent": consent.SIGN_UP,
        }

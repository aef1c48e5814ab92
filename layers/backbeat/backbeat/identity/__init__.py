"""Identity: sign-up and login through Cognito, the users table that holds each user's tier."""

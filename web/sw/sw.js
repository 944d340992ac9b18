/*
 * The service worker: the app shell cache (shell.js) and push notifications, shown and opened
 * by the SDK's handler (src/client/push-sw.ts) with the app's route of a conversation. The build
 * (web/vite.config.ts) bundles this file into /sw.js, a classic script that runs in every browser
 * with service workers, and defines SHELL_VERSION and SHELL_FILES in front of it.
 */
import { installPushHandlers } from '../../src/client/push-sw.ts'
import { conversationRoute } from '../src/lib/route.ts'
import './shell.js'

installPushHandlers(self, { conversationUrl: conversationRoute, icon: '/icons/icon-192.png' })
